"""Tandem → tracker: outbox rows written in the action's transaction (``core.events``
handlers) and the ``connector`` channel's sender; the Resync action.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import AuditEvent, Comment, OutboxMessage
from core.outbox import DeliveryFailed, DeliveryResult
from core.services import _dispatch_outbox, audit_record, outbox_is_suppressed
from integrations.connectors import adapter_for
from integrations.models import (
    Connector,
    RemoteComment,
    RemoteLink,
)
from integrations.services.connectors.common import (
    CONFLICT_ACTION,
    SYNCED_FIELDS,
    Conflict,
    _active_mappings,
    _agree,
    _any_active,
    _apply_values,
    _decide,
    _links_of,
    _mark_synced,
    _stamp,
    _write_conflicts,
    applying_remote,
    is_applying_remote,
    local_value,
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
        RemoteLink.objects.select_for_update(of=("self",))
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


def _push_create(link: RemoteLink, record: Any, adapter: Any) -> None:
    """Make the remote issue, at most once. The tracker has no idempotency key, and a try
    can fail after the remote create and before the link commits its id (the read after
    the POST times out, the worker dies, the database fails): the issue is created with
    the link's marker label, and a try of a link without a remote id first searches for
    that label and takes the issue it finds. A try of a link that holds the id (an
    earlier try committed it, then failed) finishes on that issue without searching."""
    connector = link.connector
    values = {
        f: local_value(connector, record, f)
        for f in ("title", "description", "priority")
        if connector.sends(f)
    }
    values = {f: v for f, v in values.items() if v not in (None, "") or f == "title"}
    if not values.get("title"):
        values["title"] = record.key  # the remote needs a summary; the key says nothing private
    if link.remote_id and link.sync_state in (RemoteLink.State.OK, RemoteLink.State.CONFLICT):
        # the create finished (a message delivered twice): what changed since goes by
        # _push_fields, which weighs remote edits; redoing the create here would not
        return
    if link.remote_id:
        made = adapter.get_issue(link.remote_id)
        found = True
    else:
        # locked until the link commits with the issue's id: see issue_apply
        mapping = (
            connector.mappings.select_for_update().filter(project_id=record.project_id).first()
        )
        if mapping is None:
            raise DeliveryFailed(f"{record.project} is no longer mapped.", permanent=True)
        made = adapter.issue_labelled(project=mapping.remote_project, label=link.create_label)
        found = made is not None
        if made is None:
            made = adapter.create_issue(
                project=mapping.remote_project,
                issue_type=mapping.issue_type,
                values=values,
                label=link.create_label,
            )
        link.remote_id, link.remote_key, link.url = made.id, made.key, made.url
        # kept even if what follows fails (the outbox commits the attempt): the retry
        # finishes on this issue
        link.save(update_fields=["remote_id", "remote_key", "url"])
    if found:
        # made by an earlier try, with the values of then: the record may have changed since
        stale = {f: v for f, v in values.items() if made.values.get(f) != v}
        adapter.update_fields(made.id, stale)
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
        locked = (
            RemoteLink.objects.select_for_update(of=("self",))
            .select_related("connector")
            .get(pk=link.pk)
        )
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
