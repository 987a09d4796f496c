"""Tracker → Tandem: a remote issue and its comments applied through the work item's
services (webhooks, the catch-up poll), and the webhook endpoint's checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import DomainError, NotFound
from core.outbox import DeliveryFailed
from integrations.connectors import adapter_for, secrets
from integrations.connectors.base import MalformedPayload, RemoteIssue, RemoteNote
from integrations.models import (
    Connector,
    ConnectorMapping,
    InboundDelivery,
    RemoteComment,
    RemoteLink,
)
from integrations.models.connectors import markers_in
from integrations.services.connectors.common import (
    POLL_LIMIT,
    SYNCED_FIELDS,
    Conflict,
    _agree,
    _apply_values,
    _decide,
    _mark_synced,
    _priority_in,
    _write_conflicts,
    applying_remote,
    local_value,
    log,
)


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
        RemoteLink.objects.select_for_update(of=("self",))
        .select_related("connector")
        .filter(connector=connector, remote_id=issue.id)
        .first()
    )


def _link_awaiting(connector: Connector, issue: RemoteIssue) -> RemoteLink | None:
    """The link of ``connector`` whose marker the issue carries and that holds no remote
    issue yet. A copy of an issue (Jira's Clone copies labels) carries the marker of a
    link that holds its original: that says nothing, and the copy is any new issue."""
    markers = markers_in(issue.labels)
    if not markers:
        return None  # no query for the issues people create
    return (
        RemoteLink.objects.filter(connector=connector, marker__in=markers, remote_id="")
        .select_related("connector")
        .first()
    )


def issue_apply(*, connector: Connector, issue: RemoteIssue) -> Applied:
    """Bring the remote issue's mapped fields into Tandem: a new defect for an issue not
    linked yet (unless it is the issue a push of Tandem's is creating: ignored), else the
    fields the remote changed since both sides agreed (a stale one is a conflict for the
    rule). One transaction; raises a ``DomainError`` (nothing applied) when a service
    refuses."""
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
            waiting = _link_awaiting(connector, issue)
            if waiting is not None:
                # Tandem's own create, whose push failed before the link kept the id: the
                # push's retry takes this issue (by the marker); importing it would make a
                # second record
                return Applied(
                    "ignored",
                    detail=(
                        f"{issue.key} is the issue Tandem created for "
                        f"{getattr(waiting.record, 'key', waiting.object_id)}: "
                        "its push links it"
                    ),
                )
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


def _staff_with_email(email: str) -> Any:
    """The one active staff member with this address (the issue's reporter in the tracker,
    who then reports it here and watches it), or None: the connector's user reports it.
    Never a requester: a reporter watches the defect, and its notes are internal."""
    from django.contrib.auth import get_user_model

    from core.roles import is_staff_member

    if not email:
        return None
    found = list(get_user_model().objects.filter(email__iexact=email, is_active=True)[:2])
    if len(found) != 1 or not is_staff_member(found[0]):
        return None
    return found[0]


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
        actor=connector.actor,
        kind=Kind.DEFECT,
        project=mapping.project,
        reported_by=_staff_with_email(issue.reporter_email),
        **fields,
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
    identifier or a body applied (or ignored) before (409: a replay; the signature covers the body
    only, so a captured webhook sent again under a fresh identifier is one too). A body
    the services refuse is a 422 and nothing of it is kept (one transaction)."""

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
    digest = hashlib.sha256(body).hexdigest()

    def refuse(
        status: int, code: str, message: str, event: str = "", key: str = ""
    ) -> WebhookAnswer:
        outcome = (
            InboundDelivery.Outcome.FAILED if status == 422 else InboundDelivery.Outcome.REJECTED
        )
        InboundDelivery.objects.create(
            connector=connector,
            identifier=identifier,
            digest=digest,
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
    seen = (
        InboundDelivery.objects.filter(
            connector=connector,
            outcome__in=[InboundDelivery.Outcome.APPLIED, InboundDelivery.Outcome.IGNORED],
        )
        .filter(Q(identifier=identifier) | Q(digest=digest))
        .values_list("identifier", flat=True)
        .first()
    )
    if seen is not None:
        return refuse(
            409,
            "replayed",
            f"Webhook {identifier} was received before."
            if seen == identifier
            else f"Webhook {identifier} repeats the body of webhook {seen}.",
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
                digest=digest,
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
        # the same delivery (its identifier or its body), applied by a concurrent request
        # first: this one rolled back
        return refuse(
            409,
            "replayed",
            f"Webhook {identifier} (or the same body under another identifier) was received"
            " at the same time.",
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


def inbound_deliveries_purge(*, now: datetime | None = None) -> int:
    """Daily (``integrations.tasks.connector_deliveries_purge``): delete the inbound webhook
    log's rows received more than ``CONNECTOR_DELIVERY_RETENTION_DAYS`` ago, in bounded
    batches (``core.retention``); safe to run twice. Returns how many.

    The applied and ignored rows are also the replay guard (``webhook_receive`` refuses an
    identifier or a body seen before), and forgetting one is safe once no copy of its webhook could
    pass the age check any more: the body's signed timestamp is accepted up to
    ``CONNECTOR_WEBHOOK_MAX_AGE_SECONDS`` either side of now, so a webhook received at R is
    stale by R + 2 × that; the settings refuse a retention shorter than this at start."""
    from django.core.exceptions import ImproperlyConfigured

    from core.retention import purge_in_batches

    keep = timedelta(days=settings.CONNECTOR_DELIVERY_RETENTION_DAYS)
    if keep < timedelta(seconds=2 * settings.CONNECTOR_WEBHOOK_MAX_AGE_SECONDS):
        # config/settings.py refuses this at start; settings changed since must not either
        raise ImproperlyConfigured("The connector delivery log must outlive the replay window.")
    cutoff = (now or timezone.now()) - keep
    old = InboundDelivery.objects.filter(received_at__lt=cutoff)
    return purge_in_batches(old, order_by=("received_at", "id"))
