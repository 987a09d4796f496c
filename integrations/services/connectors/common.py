"""What the tracker sync's two directions share: the no-echo context, the per-process
"is anything connected" cache, values in the remote's terms, the agreed values per field
and the conflict rule (see the package's docstring), and applying the remote's values
through the work item's services.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from core import refcache
from core.exceptions import ValidationFailed
from core.models import AuditEvent
from core.services import audit_record
from integrations.models import (
    Connector,
    ConnectorMapping,
    RemoteLink,
)

log = logging.getLogger("tandem.integrations.connectors")

# The fields kept in step, besides comments (``comments`` in the field map).
SYNCED_FIELDS = ("title", "description", "priority", "status")
# The transitions an inbound status change may fire (``release`` is Tandem's own, on a
# go-live; ``mark_duplicate`` needs the original, which the remote does not say).
INBOUND_TRANSITIONS = (
    "triage",
    "start",
    "submit_review",
    "rework",
    "fix",
    "reopen",
    "close",
    "wont_fix",
)
CONFLICT_ACTION = "sync_conflict"
# Issues one poll applies per mapping at most; it goes on from there at the next poll.
POLL_LIMIT = 2000

# --- no echo ------------------------------------------------------------------------------
_applying: ContextVar[int | None] = ContextVar("connector_applying_remote", default=None)


@contextmanager
def applying_remote(connector: Connector) -> Iterator[None]:
    """Changes made inside come from ``connector``'s remote side: they are not sent back
    to it (``on_record_audited`` / ``on_record_commented`` write no outbox row)."""
    token = _applying.set(connector.pk)
    try:
        yield
    finally:
        _applying.reset(token)


def is_applying_remote(connector_id: int) -> bool:
    return _applying.get() == connector_id


# --- cheap "is anything connected?" ------------------------------------------------------
def _active_mappings() -> dict[int, tuple[int, int, bool]]:
    """Project id → (mapping id, connector id, create remote) of the active connectors,
    kept per process (``core.refcache``: dropped when a connector or mapping changes)."""

    def load() -> dict[int, tuple[int, int, bool]]:
        return {
            m.project_id: (m.pk, m.connector_id, m.create_remote)
            for m in ConnectorMapping.objects.filter(connector__active=True)
        }

    return refcache.cached(("integrations", "connector_mappings"), load)


def _any_active() -> bool:
    return bool(_active_mappings())


def connectors_in_use() -> bool:
    """Whether any active connector maps a project (per process: no query)."""
    return _any_active()


# --- values in the remote's terms ----------------------------------------------------------
def local_value(connector: Connector, item: Any, field: str) -> Any:
    """The record's ``field`` as the remote would show it (what is compared and sent)."""
    if field == "title":
        return item.title
    if field == "description":
        return (item.description or "").strip()
    if field == "priority":
        return (connector.priority_map or {}).get(str(item.priority))
    if field == "status":
        return (connector.status_map or {}).get(item.status)
    raise ValueError(field)


def _priority_in(connector: Connector, remote: Any) -> int | None:
    for local, name in (connector.priority_map or {}).items():
        if name == remote and str(local).isdigit():
            return int(local)
    return None


def _status_in(connector: Connector, item: Any, remote: Any) -> str | None:
    """The Tandem status a remote status stands for: the record's own when it already maps
    there, else the earliest in the work item's lifecycle that maps there (the map is a
    JSON object, whose key order PostgreSQL does not keep): "Done" is ``fixed`` before
    ``closed``, "To Do" ``open`` before ``triaged``."""
    from projects.models import WorkItemStatus

    status_map = connector.status_map or {}
    if status_map.get(item.status) == remote:
        return item.status
    return next((s for s in WorkItemStatus.values if status_map.get(s) == remote), None)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- outbound: outbox rows ----------------------------------------------------------------
def _links_of(record: Any) -> RemoteLink | None:
    return (
        RemoteLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        )
        .select_related("connector")
        .first()
    )


def _mark_synced(link: RemoteLink, *, conflict: bool = False) -> None:
    link.last_synced_at = timezone.now()
    link.sync_state = RemoteLink.State.CONFLICT if conflict else RemoteLink.State.OK
    link.last_error = ""
    link.save()


# --- conflicts -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Conflict:
    field: str
    local: Any
    remote: Any
    winner: str  # "remote" or "local"
    local_at: datetime | None
    remote_at: datetime


def local_changed_at(record: Any, field: str) -> datetime | None:
    """When Tandem last changed ``field`` of ``record`` (its audit trail)."""
    rows = AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk
    ).exclude(action=CONFLICT_ACTION)
    rows = rows.exclude(to_state="") if field == "status" else rows.filter(changes__has_key=field)
    return rows.order_by("-created_at").values_list("created_at", flat=True).first()


def _decide(
    link: RemoteLink, record: Any, field: str, mine: Any, theirs: Any, remote_at: datetime
) -> Conflict:
    """The rule: the remote wins for status; otherwise the later change wins (a tie goes
    to the remote, whose time is the later-known)."""
    local_at = local_changed_at(record, field)
    remote_wins = field == "status" or local_at is None or remote_at >= local_at
    winner = "remote" if remote_wins else "local"
    log.info(
        "sync conflict on %s %s.%s: Tandem %r (%s), %s %r (%s): %s wins",
        link.connector,
        getattr(record, "key", record.pk),
        field,
        mine,
        local_at,
        link.remote_key,
        theirs,
        remote_at,
        winner,
    )
    return Conflict(field, mine, theirs, winner, local_at, remote_at)


def _write_conflicts(record: Any, conflicts: list[Conflict]) -> None:
    for c in conflicts:
        rule = "the remote decides the status" if c.field == "status" else "the later change wins"
        kept = "the remote's" if c.winner == "remote" else "Tandem's"
        audit_record(
            target=record,
            actor=None,
            action=CONFLICT_ACTION,
            changes={c.field: (c.local, c.remote)},
            comment=(
                f"Both Tandem and the tracker changed {c.field}: Tandem {c.local!r} "
                f"({_stamp(c.local_at) or 'earlier'}), tracker {c.remote!r} "
                f"({_stamp(c.remote_at)}). Kept {kept} value: {rule}."
            ),
        )


def _agree(link: RemoteLink, field: str, value: Any, remote_at: datetime | None) -> None:
    version = dict(link.field_versions.get(field) or {})
    version["value"] = value
    if remote_at is not None:
        version["remote_at"] = _stamp(remote_at)
    link.field_versions[field] = version


def _apply_values(link: RemoteLink, record: Any, take: Mapping[str, Any], issue: Any) -> None:
    """Set the remote's values (in its terms) on the record through its services, as the
    connector's user; the link then records them as agreed."""
    from projects.services import work_item_update

    connector = link.connector
    fields: dict[str, Any] = {}
    for field, value in take.items():
        if field in ("title", "description"):
            fields[field] = value or ""
        elif field == "priority":
            priority = _priority_in(connector, value)
            if priority is None:
                raise ValidationFailed(
                    f"{issue.key}: the priority {value!r} is not in the priority map.",
                    field="priority",
                )
            fields["priority"] = priority
    if "title" in fields and not fields["title"].strip():
        raise ValidationFailed(f"{issue.key}: the summary is empty.", field="title")
    if fields:
        work_item_update(item=record, actor=connector.actor, **fields)
    if "status" in take and take["status"] is not None:
        target = _status_in(connector, record, take["status"])
        if target is None:
            raise ValidationFailed(
                f"{issue.key}: the status {take['status']!r} is not in the status map.",
                field="status",
            )
        _move_to(record, target, actor=connector.actor, reason=f"{issue.key} is {take['status']}")
    record.refresh_from_db()
    updated = getattr(issue, "updated", None)
    for field, value in take.items():
        _agree(link, field, value, updated)


def _move_to(item: Any, target: str, *, actor: Any, reason: str) -> None:
    """Fire the shortest chain of the work item's transitions from its status to
    ``target``, each through its service (a refusal, a missing release for ``fix``, is a
    ``DomainError`` and nothing is kept)."""
    from projects.models import WorkItem
    from projects.services import WORK_TRANSITION_SERVICES

    item.refresh_from_db()
    if item.status == target:
        return
    graph: dict[str, list[tuple[str, str]]] = {}
    for t in WorkItem._meta.get_field("status").get_all_transitions(WorkItem):
        if t.name in INBOUND_TRANSITIONS:
            graph.setdefault(t.source, []).append((t.name, t.target))
    queue: deque[tuple[str, list[str]]] = deque([(item.status, [])])
    seen = {item.status}
    path: list[str] | None = None
    while queue:
        state, steps = queue.popleft()
        if state == target:
            path = steps
            break
        for name, nxt in graph.get(state, []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*steps, name]))
    if path is None:
        raise ValidationFailed(
            f"{item.key} cannot go from {item.status} to {target} in Tandem.", field="status"
        )
    for name in path:
        item = WORK_TRANSITION_SERVICES[name](item=item, actor=actor, comment=reason)


# --- resync (the record page's action) ------------------------------------------------------
def link_for(record: Any) -> RemoteLink | None:
    return _links_of(record)
