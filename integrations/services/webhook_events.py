"""Webhook deliveries written when records change, in the action's transaction.

The ``core.events`` handlers (registered in ``IntegrationsConfig.ready``) find the active
subscriptions that asked for the event type and match the record's filters, render the
record by its API serializer as each subscription's owner reads it (what the owner may not
read never leaves; a record they may not open makes no delivery) and write one outbox row
("webhook" channel) and one ``WebhookDelivery`` each. With no active subscription an
action pays one look at a per-process copy (``core.refcache``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from core import refcache
from core.models import AuditEvent, Comment, OutboxMessage
from core.services import _dispatch_outbox, outbox_is_suppressed
from core.visibility import parts_for
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.webhooks import catalogue
from integrations.webhooks.records import RecordType, record_type_of, record_types, representation


@dataclass(frozen=True)
class ActiveSubscription:
    """What the event handlers need of an active subscription (kept per process)."""

    id: int
    owner_id: int
    event_types: frozenset[str]
    service_ids: frozenset[int]
    project_ids: frozenset[int]
    priorities: frozenset[int]

    def matches(self, rt: RecordType, record: Any) -> bool:
        if self.service_ids and not (self.service_ids & rt.service_ids(record)):
            return False
        if self.project_ids and not (self.project_ids & rt.project_ids(record)):
            return False
        return not self.priorities or rt.priority(record) in self.priorities


def _load_active() -> tuple[ActiveSubscription, ...]:
    subs = WebhookSubscription.objects.filter(is_active=True).prefetch_related(
        "services", "projects"
    )
    return tuple(
        ActiveSubscription(
            s.pk,
            s.owner_id,
            frozenset(s.event_types or []),
            frozenset(x.pk for x in s.services.all()),
            frozenset(x.pk for x in s.projects.all()),
            frozenset(s.priorities or []),
        )
        for s in subs
    )


def active_subscriptions() -> tuple[ActiveSubscription, ...]:
    """Kept per process (``core.refcache``): an action with no subscription pays nothing."""
    return refcache.cached("integrations.webhook_subscriptions", _load_active)


def _owners(ids: Iterable[int]) -> dict[int, Any]:
    return get_user_model().objects.filter(pk__in=set(ids), is_active=True).in_bulk()


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username}


def _envelope(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "type": event_type,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "version": catalogue.PAYLOAD_VERSION,
            "data": data,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def write_delivery(
    subscription_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime,
    record: models.Model | None,
    label: str,
) -> WebhookDelivery:
    webhook_id = f"msg_{uuid.uuid4().hex}"
    ct = ContentType.objects.get_for_model(record) if record is not None else None
    order = f"webhook:{subscription_id}:" + (
        f"{ct.pk}:{record.pk}" if record is not None else "ping"
    )
    message = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.WEBHOOK,
        event=event_type[:60],
        recipients=[],
        subject=f"{event_type} {label}"[:255],
        body="",
        available_at=timezone.now(),
        content_type=ct,
        object_id=record.pk if record is not None else None,
        payload={
            "subscription": subscription_id,
            "webhook_id": webhook_id,
            "body": _envelope(event_type, at, data),
        },
        order_key=order[:120],
    )
    delivery = WebhookDelivery.objects.create(
        subscription_id=subscription_id,
        message=message,
        webhook_id=webhook_id,
        event_type=event_type,
        content_type=ct,
        object_id=record.pk if record is not None else None,
        record_label=label[:200],
    )
    transaction.on_commit(lambda: _dispatch_outbox(message.pk))
    return delivery


def _label(record: Any) -> str:
    return str(getattr(record, "key", None) or record)


def _deliver(
    rt: RecordType,
    record: Any,
    wanted: list[tuple[ActiveSubscription, str]],
    event_for: Any,
    at: datetime,
) -> None:
    """For each (subscription, event type): render the record as its owner reads it and
    write the delivery; ``event_for(owner, parts)`` is the event part, or None when the
    owner may not read it."""
    owners = _owners(s.owner_id for s, _ in wanted)
    rendered: dict[int, dict[str, Any] | None] = {}
    for sub, event_type in wanted:
        owner = owners.get(sub.owner_id)
        if owner is None:
            continue
        if owner.pk not in rendered:
            rendered[owner.pk] = representation(rt, record, owner)
        shown = rendered[owner.pk]
        if shown is None:
            continue  # the owner may not open the record
        event = event_for(owner, parts_for(owner, record))
        if event is None:
            continue  # nor read this part of it
        data = {"record_type": rt.name, "record": shown, "event": event}
        write_delivery(sub.id, event_type, data, at=at, record=record, label=_label(record))


def _wanted(rt: RecordType, record: Any, types: list[str]) -> list[tuple[ActiveSubscription, str]]:
    out = []
    for sub in active_subscriptions():
        for t in types:
            if t in sub.event_types and sub.matches(rt, record):
                out.append((sub, t))
    return out


def on_record_audited(*, event: AuditEvent, record: Any, changes: dict[str, Any]) -> None:
    """``core.events.RECORD_AUDITED``: the event types of the audit row, to the active
    subscriptions that asked for them and match the record."""
    if not active_subscriptions() or outbox_is_suppressed():
        return
    rt = record_type_of(record)
    if rt is None:
        return
    types = catalogue.types_of_audit(
        rt.name,
        action=event.action,
        from_state=event.from_state,
        to_state=event.to_state,
        changes=event.changes,
    )
    wanted = _wanted(rt, record, types) if types else []
    if not wanted:
        return

    def event_for(owner: Any, parts: Any) -> dict[str, Any] | None:
        if not parts.shows_action(event.action):
            return None
        return {
            "action": event.action,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "actor": _person(event.actor),
            "changes": event.changes if parts.history_details else {},
            "comment": event.comment if parts.history_details else "",
            "audit_id": event.pk,
        }

    _deliver(rt, record, wanted, event_for, event.created_at)


def on_record_commented(*, comment: Comment, record: Any) -> None:
    """``core.events.RECORD_COMMENTED``: ``<type>.commented``; an internal note only to
    owners who read internal notes, a public reply to those who read replies."""
    if not active_subscriptions() or outbox_is_suppressed():
        return
    rt = record_type_of(record)
    if rt is None:
        return
    wanted = _wanted(rt, record, [f"{rt.name}.commented"])
    if not wanted:
        return

    def event_for(owner: Any, parts: Any) -> dict[str, Any] | None:
        if not (parts.internal_notes if not comment.public else parts.public_replies):
            return None
        return {
            "action": "commented",
            "actor": _person(comment.author),
            "comment": {
                "id": comment.pk,
                "body": comment.body,
                "public": comment.public,
                "created_at": comment.created_at,
            },
        }

    _deliver(rt, record, wanted, event_for, comment.created_at)


def on_audit_rows_written(*, rows: list[Any], ids: list[int]) -> None:
    """``core.events.AUDIT_ROWS_WRITTEN`` (the SLA sweep's warnings and breaches, in
    bulk): ``<type>.sla_warning`` / ``<type>.sla_breached`` to owners who read SLA events.
    The cheap path first: nothing is read unless a subscription wants an SLA event."""
    subs = active_subscriptions()
    if not subs or outbox_is_suppressed():
        return
    if not any(t.endswith((".sla_warning", ".sla_breached")) for s in subs for t in s.event_types):
        return
    by_model: dict[int, list[tuple[Any, int]]] = {}
    for row, audit_id in zip(rows, ids, strict=True):
        if row.action in ("sla_warning", "sla_breached"):
            by_model.setdefault(row.content_type_id, []).append((row, audit_id))
    now = timezone.now()
    known = record_types()
    for ct_id, items in by_model.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        rt = known.get(model) if model is not None else None  # type: ignore[call-overload]
        if rt is None:
            continue
        records = rt.model._default_manager.in_bulk({r.object_id for r, _ in items})
        for row, audit_id in items:
            record = records.get(row.object_id)
            if record is None:
                continue
            types = catalogue.types_of_audit(rt.name, action=row.action)
            wanted = _wanted(rt, record, types)
            if not wanted:
                continue
            changes = {k: list(v) for k, v in (row.changes or {}).items()}

            def event_for(
                owner: Any, parts: Any, row: Any = row, changes: Any = changes, pk: int = audit_id
            ) -> dict[str, Any] | None:
                if not parts.sla_events:
                    return None
                return {
                    "action": row.action,
                    "actor": None,
                    "changes": changes,
                    "comment": row.comment,
                    "audit_id": pk,
                }

            _deliver(rt, record, wanted, event_for, now)


def on_release_gate_evaluated(*, evaluation: Any, release: Any, actor: Any) -> None:
    """``core.events.RELEASE_GATE_EVALUATED``: ``release.gate_evaluated`` with the checks."""
    if not active_subscriptions() or outbox_is_suppressed():
        return
    rt = record_type_of(release)
    if rt is None:
        return
    wanted = _wanted(rt, release, [catalogue.RELEASE_GATE_EVALUATED])
    if not wanted:
        return

    def event_for(owner: Any, parts: Any) -> dict[str, Any] | None:
        if not parts.history_details:
            return None
        return {
            "action": "gate_evaluated",
            "actor": _person(actor if actor and getattr(actor, "pk", None) else None),
            "purpose": evaluation.purpose,
            "allowed": evaluation.allowed,
            "checks": evaluation.checks,
        }

    _deliver(rt, release, wanted, event_for, evaluation.evaluated_at or timezone.now())
