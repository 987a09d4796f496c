"""Two-way sync of defects with an external tracker (a connector).

**Out.** ``on_record_audited`` / ``on_record_commented`` (``core.events``, in the action's
transaction) write outbox rows on the ``connector`` channel for a linked work item (or a
new defect of a mapped project), one ``order_key`` per record. ``connector_send`` (the
channel's sender) reads the record *when it sends*, so a row never pushes a stale value:
only the fields of the connector's field map with direction out/both leave (the
allowlist), and only those that differ from what both sides last agreed on.

**In.** A webhook (``webhook_receive``) or the catch-up poll (``connector_poll``) applies
a remote issue (``issue_apply``) and its comments (``comment_apply``) through the same
services as a user (``work_item_create``, ``work_item_update``, the work item's
transitions, ``work_comment``) as the connector's user, in one transaction, inside
``applying_remote(connector)`` so that nothing it changes is sent back (no echo).

**Conflicts.** Per field, the link keeps the value both sides last agreed on (in the
remote's terms) and when the remote last changed it; Tandem's side is its audit trail
(when the field last changed). A side whose value differs from the agreed one has
changed it since; when both have, to different values, the update is stale and the rule
decides: **the remote wins for status** (the tracker's workflow drives the development
work), **the later change wins for every other field** (the remote's ``updated`` against
the time of Tandem's last change of that field). The conflict is written to the record's
timeline: an audit row ``sync_conflict`` with both values and the winner.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import refcache
from core.exceptions import ActionForbidden, DomainError, NotFound, ValidationFailed
from core.models import AuditEvent, Comment, OutboxMessage
from core.outbox import DeliveryFailed, DeliveryResult
from core.services import _dispatch_outbox, audit_record, outbox_is_suppressed
from integrations.connectors import adapter_for, secrets
from integrations.connectors.base import MalformedPayload, RemoteIssue, RemoteNote
from integrations.models import (
    Connector,
    ConnectorMapping,
    InboundDelivery,
    RemoteComment,
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
    there, else the first one the status map lists for it."""
    status_map = connector.status_map or {}
    if status_map.get(item.status) == remote:
        return item.status
    return next((local for local, name in status_map.items() if name == remote), None)


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


def _enqueue(link: RemoteLink, record: Any, kind: str, **extra: Any) -> OutboxMessage:
    ct = ContentType.objects.get_for_model(record)
    message = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.CONNECTOR,
        event=f"connector.{kind}",
        recipients=[],
        subject=f"{link.connector.name}: {kind} {getattr(record, 'key', record.pk)}"[:255],
        body="",
        available_at=timezone.now(),
        content_type=ct,
        object_id=record.pk,
        payload={"link": link.pk, "kind": kind, **extra},
        order_key=f"connector:{link.connector_id}:{ct.pk}:{record.pk}",
    )
    transaction.on_commit(lambda: _dispatch_outbox(message.pk))
    return message


def on_record_audited(*, event: AuditEvent, record: Any, changes: Mapping[str, Any]) -> None:
    """``RECORD_AUDITED``: a linked work item's mapped fields changed, or a new defect of
    a mapped project (which becomes a remote issue) — queue the push."""
    from projects.models import Kind, WorkItem

    if not isinstance(record, WorkItem) or not _any_active() or outbox_is_suppressed():
        return
    if event.action == CONFLICT_ACTION:
        return
    if event.action == "created":
        mapped = _active_mappings().get(record.project_id)
        if record.kind != Kind.DEFECT or mapped is None or not mapped[2]:
            return
        if is_applying_remote(mapped[1]):
            return  # made from a remote issue: the link comes with it
        connector = Connector.objects.get(pk=mapped[1])
        link = RemoteLink.objects.create(
            connector=connector,
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
        )
        _enqueue(link, record, "create")
        return
    link = _links_of(record)
    if link is None or not link.connector.active or is_applying_remote(link.connector_id):
        return
    fields = {f for f in changes if f in SYNCED_FIELDS}
    if event.to_state and event.to_state != event.from_state:
        fields.add("status")
    fields = {f for f in fields if link.connector.sends(f)}
    if fields:
        _enqueue(link, record, "update", fields=sorted(fields))


def comment_may_leave(record: Any, comment: Comment) -> bool:
    """A work item's comments are its team's notes (work items are staff-only records, so
    Tandem keeps every comment on them internal): with ``comments`` mapped out they are the
    discussion the tracker shares. On any other record only a public reply could leave; an
    internal note never does."""
    from projects.models import WorkItem

    return isinstance(record, WorkItem) or comment.public


def on_record_commented(*, comment: Comment, record: Any) -> None:
    """``RECORD_COMMENTED``: a comment on a linked record goes to the remote issue."""
    from projects.models import WorkItem

    if not isinstance(record, WorkItem) or not _any_active() or outbox_is_suppressed():
        return
    link = _links_of(record)
    if link is None or not link.connector.active or is_applying_remote(link.connector_id):
        return
    if link.connector.sends("comments") and comment_may_leave(record, comment):
        _enqueue(link, record, "comment", comment=comment.pk)


# --- outbound: the channel's sender ---------------------------------------------------------
def connector_send(message: OutboxMessage) -> None:
    """Deliver one connector row (``core.outbox`` runs it in the attempt's transaction).
    The link is locked for the whole push, so a webhook the push itself causes waits and
    then finds both sides agreeing (no echo back into Tandem)."""
    payload = message.payload or {}
    link = (
        RemoteLink.objects.select_for_update()
        .select_related("connector")
        .filter(pk=payload.get("link"))
        .first()
    )
    if link is None:
        raise DeliveryFailed("The remote link no longer exists.", permanent=True)
    connector = link.connector
    if not connector.active:
        raise DeliveryFailed(f"{connector} is switched off.", permanent=True)
    record = link.record
    if record is None:
        raise DeliveryFailed("The linked record no longer exists.", permanent=True)
    kind = payload.get("kind")
    adapter = adapter_for(connector)
    if kind == "create":
        _push_create(link, record, adapter)
        return
    if not link.remote_id:
        raise DeliveryFailed("The remote issue is not created yet.")
    if kind == "update":
        _push_fields(link, record, adapter, [f for f in payload.get("fields", [])])
    elif kind == "resync":
        _push_fields(link, record, adapter, list(SYNCED_FIELDS), pull=True)
    elif kind == "comment":
        _push_comment(link, record, adapter, payload.get("comment"))
    else:
        raise DeliveryFailed(f"Unknown connector message {kind!r}.", permanent=True)


def connector_after(message: OutboxMessage, result: DeliveryResult) -> None:
    """The link shows how its last push went (the record page's sync line)."""
    link_id = (message.payload or {}).get("link")
    if result.ok or not link_id:
        return
    RemoteLink.objects.filter(pk=link_id).update(
        sync_state=RemoteLink.State.ERROR,
        last_error=(
            f"{result.error} (retrying)" if not result.dead else f"{result.error} (gave up)"
        )[:2000],
    )


def _sent(link: RemoteLink, values: Mapping[str, Any], now: datetime) -> None:
    for field, value in values.items():
        version = dict(link.field_versions.get(field) or {})
        version.update(value=value, local_at=_stamp(now))
        link.field_versions[field] = version


def _mark_synced(link: RemoteLink, *, conflict: bool = False) -> None:
    link.last_synced_at = timezone.now()
    link.sync_state = RemoteLink.State.CONFLICT if conflict else RemoteLink.State.OK
    link.last_error = ""
    link.save()


def _push_create(link: RemoteLink, record: Any, adapter: Any) -> None:
    if link.remote_id:
        return  # created by an earlier try that committed
    connector = link.connector
    # locked until the link commits with the issue's id: see issue_apply
    mapping = connector.mappings.select_for_update().filter(project_id=record.project_id).first()
    if mapping is None:
        raise DeliveryFailed(f"{record.project} is no longer mapped.", permanent=True)
    values = {
        f: local_value(connector, record, f)
        for f in ("title", "description", "priority")
        if connector.sends(f)
    }
    values = {f: v for f, v in values.items() if v not in (None, "") or f == "title"}
    if not values.get("title"):
        values["title"] = record.key  # the remote needs a summary; the key says nothing private
    made = adapter.create_issue(
        project=mapping.remote_project, issue_type=mapping.issue_type, values=values
    )
    link.remote_id, link.remote_key, link.url = made.id, made.key, made.url
    # kept even if what follows fails (the outbox commits the attempt): a retry must not
    # create the issue twice
    link.save(update_fields=["remote_id", "remote_key", "url"])
    now = timezone.now()
    _sent(link, values, now)
    for field in ("title", "description", "priority", "status"):
        link.field_versions.setdefault(field, {})
        link.field_versions[field].setdefault("value", made.values.get(field))
        link.field_versions[field]["remote_at"] = _stamp(made.updated)
    wanted = local_value(connector, record, "status")
    if connector.sends("status") and wanted and wanted != made.values.get("status"):
        adapter.set_status(made.id, wanted)
        _sent(link, {"status": wanted}, now)
    _mark_synced(link)


def _push_fields(
    link: RemoteLink, record: Any, adapter: Any, fields: list[str], *, pull: bool = False
) -> None:
    """Send the fields that Tandem changed since both sides agreed; a field the remote
    changed too is a conflict for the rule to decide. ``pull`` (a resync) also applies
    what the remote changed alone."""
    connector = link.connector
    remote = adapter.get_issue(link.remote_id)
    send: dict[str, Any] = {}
    take: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for field in fields:
        if field not in SYNCED_FIELDS:
            continue
        mine, theirs = local_value(connector, record, field), remote.values.get(field)
        agreed = (link.field_versions.get(field) or {}).get("value", mine)
        if mine == theirs:
            _agree(link, field, theirs, remote.updated)
            continue
        if mine != agreed and connector.sends(field):
            if theirs != agreed:  # both changed: stale
                conflict = _decide(link, record, field, mine, theirs, remote.updated)
                conflicts.append(conflict)
                if conflict.winner == "remote":
                    if connector.takes(field):
                        take[field] = theirs
                    continue
            send[field] = mine
        elif pull and theirs != agreed and connector.takes(field):
            take[field] = theirs
    fields_out = {f: v for f, v in send.items() if f != "status" and v is not None}
    adapter.update_fields(link.remote_id, fields_out)
    if send.get("status"):
        adapter.set_status(link.remote_id, send["status"])
    _sent(link, send, timezone.now())
    if take or conflicts:
        # the remote's values come in as any inbound change does, in a savepoint: a refusal
        # leaves nothing half-applied and the push is tried again
        with transaction.atomic(), applying_remote(connector):
            _apply_values(link, record, take, remote)
            _write_conflicts(record, conflicts)
    _mark_synced(link, conflict=bool(conflicts))


def _push_comment(link: RemoteLink, record: Any, adapter: Any, comment_id: Any) -> None:
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None or RemoteComment.objects.filter(link=link, comment=comment).exists():
        return  # deleted since, or already there
    if not (link.connector.sends("comments") and comment_may_leave(record, comment)):
        return
    author = comment.author.get_full_name() or comment.author.get_username()
    note = adapter.add_comment(link.remote_id, f"{author} (Tandem): {comment.body}")
    RemoteComment.objects.create(
        link=link, comment=comment, remote_id=note.id, came_from_remote=False
    )
    _mark_synced(link)


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


# --- inbound ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied:
    outcome: str  # created, updated, unchanged, ignored
    link: RemoteLink | None = None
    detail: str = ""


def _mapping(connector: Connector, project: str) -> ConnectorMapping | None:
    return connector.mappings.select_related("project").filter(remote_project=project).first()


def _locked_link(connector: Connector, issue: RemoteIssue) -> RemoteLink | None:
    return (
        RemoteLink.objects.select_for_update()
        .select_related("connector")
        .filter(connector=connector, remote_id=issue.id)
        .first()
    )


def issue_apply(*, connector: Connector, issue: RemoteIssue) -> Applied:
    """Bring the remote issue's mapped fields into Tandem: a new defect for an issue not
    linked yet, else the fields the remote changed since both sides agreed (a stale one
    is a conflict for the rule). One transaction; raises a ``DomainError`` (nothing
    applied) when a service refuses."""
    mapping = _mapping(connector, issue.project)
    if mapping is None:
        return Applied("ignored", detail=f"{issue.project} is not a mapped project")
    with transaction.atomic(), applying_remote(connector):
        link = _locked_link(connector, issue)
        if link is None:
            # the mapping's lock orders this after a push that is creating this very issue
            # (its webhook can arrive before the push commits the link): then it is found
            ConnectorMapping.objects.select_for_update().filter(pk=mapping.pk).first()
            link = _locked_link(connector, issue)
        if link is None:
            link = _create_from_remote(connector, mapping, issue)
            return Applied("created", link)
        record = link.record
        if record is None:
            raise NotFound(f"The record linked to {issue.key} no longer exists.")
        take: dict[str, Any] = {}
        conflicts: list[Conflict] = []
        for field in SYNCED_FIELDS:
            if not connector.takes(field):
                continue
            mine, theirs = local_value(connector, record, field), issue.values.get(field)
            agreed = (link.field_versions.get(field) or {}).get("value", mine)
            if theirs == agreed or theirs is None:
                continue  # nothing new from the remote (a change of ours coming back)
            if mine == theirs:
                _agree(link, field, theirs, issue.updated)
            elif mine == agreed:
                take[field] = theirs
            else:
                conflict = _decide(link, record, field, mine, theirs, issue.updated)
                conflicts.append(conflict)
                if conflict.winner == "remote":
                    take[field] = theirs
                else:  # seen and decided: what is left is Tandem's change, to be pushed
                    _agree(link, field, theirs, issue.updated)
        _apply_values(link, record, take, issue)
        _write_conflicts(record, conflicts)
        link.remote_key, link.url = issue.key, issue.url
        _mark_synced(link, conflict=bool(conflicts))
    return Applied("updated" if take or conflicts else "unchanged", link)


def _create_from_remote(
    connector: Connector, mapping: ConnectorMapping, issue: RemoteIssue
) -> RemoteLink:
    from projects.models import Kind
    from projects.services import work_item_create

    values = issue.values
    fields: dict[str, Any] = {
        "title": (values.get("title") if connector.takes("title") else "") or issue.key
    }
    if connector.takes("description"):
        fields["description"] = values.get("description") or ""
    if connector.takes("priority") and _priority_in(connector, values.get("priority")):
        fields["priority"] = _priority_in(connector, values.get("priority"))
    item = work_item_create(
        actor=connector.actor, kind=Kind.DEFECT, project=mapping.project, **fields
    )
    link = RemoteLink.objects.create(
        connector=connector,
        content_type=ContentType.objects.get_for_model(item),
        object_id=item.pk,
        remote_id=issue.id,
        remote_key=issue.key,
        url=issue.url,
    )
    if connector.takes("status"):
        _apply_values(link, item, {"status": values.get("status")}, issue)
    for field in SYNCED_FIELDS:
        _agree(link, field, values.get(field), issue.updated)
    _mark_synced(link)
    return link


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


def comment_apply(*, connector: Connector, issue: RemoteIssue, note: RemoteNote) -> Applied:
    """A remote comment becomes a work note on the linked record (once: by its remote id),
    written by the connector's user and naming its author. The connector's own comments
    (Tandem's, sent out) are not copied back."""
    from projects.services import work_comment

    if not connector.takes("comments"):
        return Applied("ignored", detail="comments do not come in")
    if note.author_email and note.author_email.lower() == connector.auth_email.lower():
        return Applied("ignored", detail="Tandem's own comment")
    if not note.body.strip():
        return Applied("ignored", detail="an empty comment")
    with transaction.atomic(), applying_remote(connector):
        link = _locked_link(connector, issue)
        if link is None:
            applied = issue_apply(connector=connector, issue=issue)
            if applied.link is None:
                return applied
            link = _locked_link(connector, issue)
        assert link is not None
        if RemoteComment.objects.filter(link=link, remote_id=note.id).exists():
            return Applied("unchanged", link, "comment already here")
        record = link.record
        comment = work_comment(
            item=record,
            actor=connector.actor,
            body=f"{note.author_name} in {issue.key}:\n\n{note.body}",
        )
        RemoteComment.objects.create(
            link=link, comment=comment, remote_id=note.id, came_from_remote=True
        )
        _mark_synced(link)
    return Applied("updated", link)


# --- the webhook endpoint ------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    code: str
    message: str


def webhook_receive(*, connector_id: int, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
    """Check and apply one webhook. Refused (and logged, with a row of
    ``InboundDelivery``): an unknown or inactive connector or a missing or wrong signature
    (401), no delivery identifier or a malformed body (400), a ``timestamp``
    older than ``CONNECTOR_WEBHOOK_MAX_AGE_SECONDS`` or as far in the future (400), an
    identifier applied before (409: a replay). A body the services refuse is a 422 and
    nothing of it is kept (one transaction)."""
    from core.ids import parse_id

    connector = (
        Connector.objects.filter(pk=connector_id, active=True).first()
        if parse_id(connector_id) is not None
        else None
    )
    if connector is None:
        # a 401 like a wrong signature: which connector ids exist is nobody's business
        log.warning("webhook for unknown or inactive connector %s refused", connector_id)
        return WebhookAnswer(401, "bad_signature", "No active connector takes this webhook.")
    adapter = adapter_for(connector)
    identifier = adapter.delivery_id(headers)

    def refuse(
        status: int, code: str, message: str, event: str = "", key: str = ""
    ) -> WebhookAnswer:
        outcome = (
            InboundDelivery.Outcome.FAILED if status == 422 else InboundDelivery.Outcome.REJECTED
        )
        InboundDelivery.objects.create(
            connector=connector,
            identifier=identifier,
            event=event[:60],
            remote_key=key[:40],
            outcome=outcome,
            status_code=status,
            error=message[:2000],
        )
        log.warning(
            "webhook %s for %s refused (%s %s): %s", identifier, connector, status, code, message
        )
        return WebhookAnswer(status, code, message)

    try:
        secret = secrets.webhook_secret(connector)
    except DomainError as exc:
        return refuse(401, "bad_signature", exc.message)
    if not adapter.verify_signature(secret=secret, body=body, headers=headers):
        return refuse(401, "bad_signature", "The webhook's signature is missing or wrong.")
    if not identifier:
        return refuse(400, "invalid", "The webhook carries no delivery identifier.")
    try:
        event = adapter.read_webhook(json.loads(body))
    except (ValueError, MalformedPayload) as exc:
        return refuse(400, "invalid", f"The webhook body is malformed: {exc}")
    age = (timezone.now() - event.sent_at).total_seconds()
    if abs(age) > settings.CONNECTOR_WEBHOOK_MAX_AGE_SECONDS:
        return refuse(
            400,
            "stale",
            f"The webhook was sent {age:.0f} s ago: too old (or from the future).",
            event.event,
            event.issue.key,
        )
    seen = InboundDelivery.objects.filter(
        connector=connector,
        identifier=identifier,
        outcome__in=[InboundDelivery.Outcome.APPLIED, InboundDelivery.Outcome.IGNORED],
    ).exists()
    if seen:
        return refuse(
            409,
            "replayed",
            f"Webhook {identifier} was received before.",
            event.event,
            event.issue.key,
        )
    try:
        with transaction.atomic():
            if event.comment is not None and event.event == "comment_created":
                applied = comment_apply(connector=connector, issue=event.issue, note=event.comment)
            elif event.event in ("jira:issue_created", "jira:issue_updated"):
                applied = issue_apply(connector=connector, issue=event.issue)
            else:
                applied = Applied("ignored", detail=f"{event.event} is not synced")
            outcome = (
                InboundDelivery.Outcome.IGNORED
                if applied.outcome == "ignored"
                else InboundDelivery.Outcome.APPLIED
            )
            # the replay guard commits with the change it guards
            InboundDelivery.objects.create(
                connector=connector,
                identifier=identifier,
                event=event.event[:60],
                remote_key=event.issue.key[:40],
                outcome=outcome,
                status_code=200,
                error=applied.detail,
            )
    except DomainError as exc:
        _link_failed(connector, event.issue.id, exc.message)
        return refuse(422, "unprocessable", exc.message, event.event, event.issue.key)
    except IntegrityError:
        # the same delivery, applied by a concurrent request first: this one rolled back
        return refuse(
            409,
            "replayed",
            f"Webhook {identifier} was received before.",
            event.event,
            event.issue.key,
        )
    return WebhookAnswer(
        200, applied.outcome, applied.detail or f"{event.issue.key} {applied.outcome}."
    )


def _link_failed(connector: Connector, remote_id: str, message: str) -> None:
    RemoteLink.objects.filter(connector=connector, remote_id=remote_id).update(
        sync_state=RemoteLink.State.ERROR, last_error=message[:2000]
    )


# --- the catch-up poll ---------------------------------------------------------------------
@dataclass
class PollResult:
    issues: int = 0
    changed: int = 0
    failed: int = 0


def connector_poll(*, connector: Connector) -> PollResult:
    """Fetch what the remote changed since the last poll (a minute of overlap: JQL counts
    in minutes) and apply it as a webhook would: issues, then their comments, each issue
    in its own transaction. An issue the services refuse is counted and marked on its
    link; the poll goes on. Safe to run twice: what both sides agree on is not applied
    again, and a comment is copied once."""
    adapter = adapter_for(connector)
    started = timezone.now()
    result = PollResult()
    # the first poll reads from the connector's creation, not the project's whole past
    since = connector.last_polled_at or connector.created_at
    for mapping in connector.mappings.all():
        issues = adapter.updated_since(project=mapping.remote_project, since=since)
        for read, issue in enumerate(issues, start=1):
            if read > POLL_LIMIT:
                # the rest next time, from this one on (they come oldest first)
                started = min(started, issue.updated)
                break
            result.issues += 1
            try:
                applied = issue_apply(connector=connector, issue=issue)
                changed = applied.outcome in ("created", "updated")
                if connector.takes("comments") and applied.link is not None:
                    for note in adapter.comments(issue.id):
                        done = comment_apply(connector=connector, issue=issue, note=note)
                        changed = changed or done.outcome == "updated"
                result.changed += int(changed)
            except (DomainError, DeliveryFailed) as exc:
                result.failed += 1
                _link_failed(connector, issue.id, str(exc))
                log.warning("poll of %s: %s not applied: %s", connector, issue.key, exc)
    Connector.objects.filter(pk=connector.pk).update(last_polled_at=started)
    connector.last_polled_at = started
    return result


def connectors_poll_all() -> dict[str, PollResult]:
    """Every active connector with mappings (the beat task and ``manage.py
    connector_poll``). A connector whose remote cannot be reached is skipped this time."""
    out: dict[str, PollResult] = {}
    for connector in Connector.objects.filter(active=True, mappings__isnull=False).distinct():
        try:
            out[connector.name] = connector_poll(connector=connector)
        except (DeliveryFailed, MalformedPayload) as exc:
            log.warning("poll of %s failed: %s", connector, exc)
            out[connector.name] = PollResult(failed=1)
    return out


# --- resync (the record page's action) ------------------------------------------------------
def link_for(record: Any) -> RemoteLink | None:
    return _links_of(record)


def can_resync(user: Any, link: RemoteLink) -> bool:
    """Who may ask for a resync: whoever may edit the linked work item (its project's
    people, ``projects.permissions.can_edit_work_item``) when the matrix allows."""
    from core.matrix import allows
    from projects import permissions

    record = link.record
    return (
        record is not None
        and allows(user, "defect", "resync with the tracker")
        and permissions.can_edit_work_item(user, record)
    )


def remote_link_resync(*, link: RemoteLink, actor: Any) -> OutboxMessage:
    """Queue a full sync of the link: pull the remote issue and apply what it changed,
    push what Tandem changed (conflicts by the rule), or create the remote issue if that
    never went through. Audit: ``resync_requested`` on the record."""
    if not can_resync(actor, link):
        raise ActionForbidden("Only the project's people may resync its work items.")
    with transaction.atomic():
        locked = RemoteLink.objects.select_for_update().select_related("connector").get(pk=link.pk)
        if not locked.connector.active:
            raise ValidationFailed(f"{locked.connector} is switched off.", field="connector")
        record = locked.record
        kind = "resync" if locked.remote_id else "create"
        message = _enqueue(locked, record, kind)
        locked.sync_state = RemoteLink.State.PENDING
        locked.save(update_fields=["sync_state"])
        audit_record(
            target=record,
            actor=actor,
            action="resync_requested",
            comment=f"Resync with {locked.remote_key or locked.connector.name} requested.",
        )
    return message


def since_hint(connector: Connector) -> datetime | None:
    """When the next poll starts reading from (for the admin page)."""
    return connector.last_polled_at - timedelta(minutes=1) if connector.last_polled_at else None
