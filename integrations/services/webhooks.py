"""Outbound webhooks: the subscriptions' write path, the deliveries written when records
change, and the outbox's "webhook" channel that sends them.

Deliveries are written in the action's transaction (``core.events`` handlers, registered
in ``IntegrationsConfig.ready``): the record is rendered then, by its API serializer, as
the subscription's owner reads it — what the owner may not read never leaves, and a
record they may not open makes no delivery. The outbox sends after commit and retries;
the body is signed at send time (Standard Webhooks), with the previous secret too while
a rotation's overlap lasts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from core import refcache
from core.exceptions import ActionForbidden, IllegalTransition, NotFound, ValidationFailed
from core.models import AuditEvent, Comment, Notification, OutboxMessage, Service
from core.outbox import DeliveryFailed, DeliveryResult, outbox_requeue
from core.services import _dispatch_outbox, audit_record, outbox_email, outbox_is_suppressed
from core.visibility import parts_for
from integrations import http
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.permissions import can_allow_private_receivers, can_manage_webhooks
from integrations.webhooks import catalogue, secrets
from integrations.webhooks.records import RecordType, record_type_of, record_types, representation

log = logging.getLogger(__name__)

EXCERPT = 2000
NAME_MAX = 120
URL_MAX = 500


# --- the subscriptions -------------------------------------------------------------------
def _ensure_manager(actor: Any) -> None:
    if not can_manage_webhooks(actor):
        raise ActionForbidden("Only administrators manage webhook subscriptions.")


def validate_url(url: str, *, allow_private: bool) -> str:
    """An http(s) URL with a host and no credentials; a private address written as a literal
    (or localhost) is refused unless ``allow_private``. The check at delivery time, on the
    connected socket (``integrations.http``), stays the real guard: a name can resolve to
    anything later."""
    url = (url or "").strip()
    if not url:
        raise ValidationFailed("Give the receiver's URL.", field="url")
    if len(url) > URL_MAX:
        raise ValidationFailed(f"A URL is at most {URL_MAX} characters.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise ValidationFailed(f"Not a valid URL: {exc}.", field="url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationFailed("The URL must start with http:// or https://.", field="url")
    if not parts.hostname:
        raise ValidationFailed("The URL has no host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            "Put no credentials in the URL: the receiver checks the signature instead.",
            field="url",
        )
    if any(ch.isspace() for ch in url):
        raise ValidationFailed("The URL contains spaces.", field="url")
    del port
    host = parts.hostname.lower().rstrip(".")
    if not allow_private:
        private = host == "localhost" or host.endswith(".localhost")
        with contextlib.suppress(ValueError):  # a name: checked when connected
            private = private or http.address_is_private(str(ipaddress.ip_address(host)))
        if private:
            raise ValidationFailed(
                f"{host} is a private address; an administrator must allow private "
                "receivers for this subscription.",
                field="url",
            )
    return url


@dataclass(frozen=True)
class SubscriptionInput:
    name: str | None = None
    url: str | None = None
    event_types: list[str] | None = None
    services: list[Service] | None = None
    projects: list[Any] | None = None
    priorities: list[int] | None = None
    owner: Any = None
    allow_private: bool | None = None
    max_attempts: int | None = None
    is_active: bool | None = None


def _clean_event_types(types: Iterable[str]) -> list[str]:
    types = list(dict.fromkeys(types or []))
    unknown = [t for t in types if t not in catalogue.EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"Unknown event type(s): {', '.join(unknown)} (see /api/v1/webhooks/schema/).",
            field="event_types",
        )
    if not types:
        raise ValidationFailed("Choose at least one event type.", field="event_types")
    return types


def _clean_priorities(values: Iterable[Any]) -> list[int]:
    out: list[int] = []
    for v in values or []:
        try:
            p = int(v)
        except (TypeError, ValueError):
            p = 0
        if not 1 <= p <= 5:
            raise ValidationFailed("A priority is a number from 1 to 5.", field="priorities")
        out.append(p)
    return sorted(set(out))


def _clean(data: SubscriptionInput, sub: WebhookSubscription | None, actor: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if data.name is not None or sub is None:
        name = (data.name or "").strip()
        if not name:
            raise ValidationFailed("Give the subscription a name.", field="name")
        if len(name) > NAME_MAX:
            raise ValidationFailed(f"A name is at most {NAME_MAX} characters.", field="name")
        values["name"] = name
    if data.allow_private is not None:
        if (
            data.allow_private
            and not (sub and sub.allow_private)
            and not can_allow_private_receivers(actor)
        ):
            raise ActionForbidden("Only an administrator may allow private receivers.")
        values["allow_private"] = bool(data.allow_private)
    allow_private = values.get("allow_private", sub.allow_private if sub else False)
    if data.url is not None or sub is None or "allow_private" in values:
        url = data.url if data.url is not None else (sub.url if sub else "")
        values["url"] = validate_url(url or "", allow_private=allow_private)
    if data.event_types is not None or sub is None:
        values["event_types"] = _clean_event_types(data.event_types or [])
    if data.priorities is not None:
        values["priorities"] = _clean_priorities(data.priorities)
    if data.max_attempts is not None:
        if not 1 <= int(data.max_attempts) <= 50:
            raise ValidationFailed("Tries are from 1 to 50.", field="max_attempts")
        values["max_attempts"] = int(data.max_attempts)
    if data.owner is not None:
        if not getattr(data.owner, "is_active", False):
            raise ValidationFailed("The owner must be an active user.", field="owner")
        values["owner"] = data.owner
    return values


def _audit_values(sub: WebhookSubscription, names: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in names:
        if n in ("services", "projects"):
            out[n] = sorted(str(o) for o in getattr(sub, n).all())
        elif n == "owner":
            out[n] = str(sub.owner)
        else:
            out[n] = getattr(sub, n)
    return out


def subscription_create(*, actor: Any, data: SubscriptionInput) -> tuple[WebhookSubscription, str]:
    """Create a subscription; returns it with its signing secret (shown this once).

    Preconditions: ``can_manage_webhooks``; a name; a valid URL (``validate_url``); one or
    more event types of the catalogue; ``allow_private`` only by an administrator; the
    owner (default: the actor) an active user. One audit row ("created", no secret)."""
    _ensure_manager(actor)
    values = _clean(data, None, actor)
    values.setdefault("owner", actor)
    secret = secrets.new_secret()
    with transaction.atomic():
        sub = WebhookSubscription.objects.create(
            **values,
            is_active=True if data.is_active is None else bool(data.is_active),
            secret_encrypted=secrets.encrypt(secret),
            created_by=actor,
        )
        if data.services:
            sub.services.set(data.services)
        if data.projects:
            sub.projects.set(data.projects)
        audit_record(
            target=sub,
            actor=actor,
            action="created",
            changes={
                k: (None, v)
                for k, v in _audit_values(
                    sub, [*values, "is_active", "services", "projects"]
                ).items()
            },
        )
        refcache.invalidate()
    return sub, secret


def subscription_update(
    *, subscription: WebhookSubscription, actor: Any, data: SubscriptionInput
) -> WebhookSubscription:
    """Change a subscription (the fields given). Turning it on again (``is_active``) is
    ``subscription_enable``; off, ``subscription_disable``. One audit row ("updated")."""
    _ensure_manager(actor)
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        values = _clean(data, sub, actor)
        names = [*values]
        if data.services is not None:
            names.append("services")
        if data.projects is not None:
            names.append("projects")
        before = _audit_values(sub, names)
        for k, v in values.items():
            setattr(sub, k, v)
        sub.save()
        if data.services is not None:
            sub.services.set(data.services)
        if data.projects is not None:
            sub.projects.set(data.projects)
        after = _audit_values(sub, names)
        changes = {k: (before[k], after[k]) for k in names if before[k] != after[k]}
        if changes:
            audit_record(target=sub, actor=actor, action="updated", changes=changes)
        refcache.invalidate()
    if data.is_active is True and not sub.is_active:
        sub = subscription_enable(subscription=sub, actor=actor)
    elif data.is_active is False and sub.is_active:
        sub = subscription_disable(subscription=sub, actor=actor, reason="Turned off.")
    return sub


def subscription_delete(*, subscription: WebhookSubscription, actor: Any) -> None:
    """Delete it with its deliveries' log; its pending deliveries are parked (the sender
    finds no subscription). One audit row ("deleted")."""
    _ensure_manager(actor)
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        audit_record(target=sub, actor=actor, action="deleted", comment=sub.name)
        sub.delete()
        refcache.invalidate()


def subscription_rotate_secret(
    *, subscription: WebhookSubscription, actor: Any
) -> tuple[WebhookSubscription, str]:
    """A new signing secret (returned, shown this once). The old one keeps signing too for
    ``WEBHOOK_SECRET_OVERLAP_HOURS``: each delivery meanwhile carries both signatures, so
    the receiver can switch at its pace. A second rotation within the overlap drops the
    oldest. One audit row ("secret_rotated")."""
    _ensure_manager(actor)
    secret = secrets.new_secret()
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        now = timezone.now()
        sub.previous_secret_encrypted = sub.secret_encrypted
        sub.previous_secret_expires_at = now + timedelta(
            hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
        )
        sub.secret_encrypted = secrets.encrypt(secret)
        sub.secret_rotated_at = now
        sub.save()
        until = f"{sub.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC"
        audit_record(
            target=sub,
            actor=actor,
            action="secret_rotated",
            comment=f"The previous secret signs too until {until}.",
        )
    return sub, secret


def subscription_enable(*, subscription: WebhookSubscription, actor: Any) -> WebhookSubscription:
    """Turn it on again, its failure count reset (its dead deliveries stay dead until
    redelivered). One audit row ("enabled"); nothing when it is on."""
    _ensure_manager(actor)
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if sub.is_active:
            return sub
        sub.is_active, sub.disabled_at, sub.disabled_reason = True, None, ""
        sub.consecutive_failures = 0
        sub.save()
        audit_record(
            target=sub, actor=actor, action="enabled", changes={"is_active": (False, True)}
        )
    return sub


def subscription_disable(
    *, subscription: WebhookSubscription, actor: Any, reason: str = ""
) -> WebhookSubscription:
    """Turn it off: no delivery is written for it, and its pending ones are parked as dead
    when their turn comes. One audit row ("disabled"); nothing when it is off."""
    _ensure_manager(actor)
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if not sub.is_active:
            return sub
        _disable(sub, actor, reason or "Turned off.")
    return sub


def _disable(sub: WebhookSubscription, actor: Any, reason: str) -> None:
    sub.is_active, sub.disabled_at, sub.disabled_reason = False, timezone.now(), reason[:255]
    sub.save()
    audit_record(
        target=sub,
        actor=actor,
        action="disabled",
        changes={"is_active": (True, False)},
        comment=reason,
    )


def webhook_ping(*, subscription: WebhookSubscription, actor: Any) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery (signed like any other) to test the receiver.
    409 when the subscription is off. Writes no audit row (it changes nothing)."""
    _ensure_manager(actor)
    if not subscription.is_active:
        raise IllegalTransition("The subscription is disabled: enable it to send a ping.")
    now = timezone.now()
    with transaction.atomic():
        return _write_delivery(
            subscription.pk,
            catalogue.PING,
            {
                "subscription": {"id": subscription.pk, "name": subscription.name},
                "message": f"A test ping from Tandem, sent by {actor}.",
            },
            at=now,
            record=None,
            label="ping",
        )


def webhook_redeliver(
    *, subscription: WebhookSubscription, actor: Any, delivery_ids: list[int] | None = None
) -> int:
    """Send dead deliveries of the subscription again (those named, or all): their tries
    start afresh, with the body rendered at the time of the event. Returns how many.
    409 when the subscription is off; 400 naming deliveries that are not its dead ones."""
    _ensure_manager(actor)
    if not subscription.is_active:
        raise IllegalTransition("The subscription is disabled: enable it before redelivering.")
    dead = WebhookDelivery.objects.filter(
        subscription=subscription, message__status=OutboxMessage.Status.FAILED
    )
    if delivery_ids is not None:
        wanted = set(delivery_ids)
        found = dict(dead.filter(pk__in=wanted).values_list("pk", "message_id"))
        missing = sorted(wanted - set(found))
        if missing:
            raise ValidationFailed(
                f"Not dead deliveries of this subscription: {', '.join(map(str, missing))}.",
                field="deliveries",
            )
        message_ids = list(found.values())
    else:
        message_ids = list(dead.values_list("message_id", flat=True))
    with transaction.atomic():
        count = outbox_requeue(message_ids=message_ids)
        if count:
            audit_record(
                target=subscription,
                actor=actor,
                action="redelivered",
                comment=f"{count} dead deliver{'y' if count == 1 else 'ies'} sent again.",
            )
    return count


# --- writing deliveries (in the action's transaction) ------------------------------------
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


def _write_delivery(
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
        _write_delivery(sub.id, event_type, data, at=at, record=record, label=_label(record))


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


# --- the "webhook" channel (core.outbox) --------------------------------------------------
def signing_secrets(sub: WebhookSubscription, now: datetime | None = None) -> list[str]:
    """The current secret, and the previous one while the rotation's overlap lasts."""
    now = now or timezone.now()
    found = [secrets.decrypt(sub.secret_encrypted)]
    if (
        sub.previous_secret_encrypted
        and sub.previous_secret_expires_at
        and sub.previous_secret_expires_at > now
    ):
        found.append(secrets.decrypt(sub.previous_secret_encrypted))
    return found


def webhook_send(message: OutboxMessage) -> None:
    """Sign and POST one delivery; every try is logged (``WebhookAttempt``). Raises
    ``DeliveryFailed`` (from ``integrations.http``) for the outbox to retry or park."""
    delivery = (
        WebhookDelivery.objects.select_related("subscription").filter(message=message).first()
    )
    if delivery is None:
        raise DeliveryFailed("The subscription of this delivery no longer exists.", permanent=True)
    sub = delivery.subscription
    message._webhook_max = sub.max_attempts  # type: ignore[attr-defined]
    now = timezone.now()
    body = (message.payload or {}).get("body", "")
    attempt = WebhookAttempt(delivery=delivery, attempted_at=now, url=sub.url[:500])
    message._webhook_attempt = attempt  # type: ignore[attr-defined]
    attempt.request_body = body[:EXCERPT]
    started = time.monotonic()
    try:
        if not sub.is_active:
            raise DeliveryFailed("The subscription is disabled.", permanent=True)
        try:
            signing = signing_secrets(sub, now)
        except secrets.SecretUnreadable as exc:
            raise DeliveryFailed(str(exc), permanent=True) from exc
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": secrets.signature(
                signing, msg_id=delivery.webhook_id, timestamp=now, body=body
            ),
        }
        attempt.request_headers = headers
        answer = http.request(
            "POST",
            sub.url,
            allow_private=sub.allow_private,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            headers=headers,
            data=body.encode(),
        )
    except DeliveryFailed as exc:
        got = getattr(exc, "answer", None)
        attempt.error = str(exc)[:EXCERPT]
        if got is not None:
            attempt.response_status = got.status
            attempt.response_body = got.body[:EXCERPT]
            attempt.duration_ms = got.elapsed_ms
        else:
            attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.save()
        raise
    except Exception as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.save()
        raise
    attempt.ok = True
    attempt.response_status = answer.status
    attempt.response_body = answer.body[:EXCERPT]
    attempt.duration_ms = answer.elapsed_ms
    attempt.save()


def webhook_max_attempts(message: OutboxMessage) -> int:
    return getattr(message, "_webhook_max", None) or settings.WEBHOOK_MAX_ATTEMPTS


def webhook_after(message: OutboxMessage, result: DeliveryResult) -> None:
    """In the attempt's transaction: note on the attempt what comes next; a delivered one
    resets the subscription's failure count, a dead one adds to it, and after
    ``WEBHOOK_DISABLE_AFTER_DEAD`` dead deliveries in a row the subscription is disabled
    and its owner told (e-mail and in-app)."""
    attempt = getattr(message, "_webhook_attempt", None)
    if attempt is not None and attempt.pk and not result.ok:
        attempt.dead = result.dead
        attempt.retry_at = result.retry_at  # type: ignore[assignment]
        attempt.save(update_fields=["dead", "retry_at"])
    sub_id = (message.payload or {}).get("subscription")
    if sub_id is None:
        return
    if result.ok:
        WebhookSubscription.objects.filter(pk=sub_id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
        return
    if not result.dead:
        return
    sub = WebhookSubscription.objects.select_for_update().filter(pk=sub_id).first()
    if sub is None or not sub.is_active:
        return  # parked because it is off: not the receiver's failure
    sub.consecutive_failures += 1
    WebhookSubscription.objects.filter(pk=sub.pk).update(
        consecutive_failures=sub.consecutive_failures
    )
    limit = settings.WEBHOOK_DISABLE_AFTER_DEAD
    if limit and sub.consecutive_failures >= limit:
        reason = (
            f"Disabled after {sub.consecutive_failures} dead deliveries in a row "
            f"(last error: {result.error[:150]})."
        )
        _disable(sub, None, reason)
        _tell_owner_disabled(sub, reason)


def _tell_owner_disabled(sub: WebhookSubscription, reason: str) -> None:
    owner = sub.owner
    base = getattr(settings, "TANDEM_BASE_URL", "").rstrip("/")
    subject = f"Webhook “{sub.name}” was disabled"
    body = (
        f"{reason}\n\nThe receiver {sub.url} kept failing. Fix it, then enable the "
        f"subscription and redeliver what died:\n{base}{sub.get_absolute_url()}"
    )
    if owner.email:
        outbox_email(
            event="webhook.disabled",
            recipients=[owner.email],
            subject=subject,
            body=body,
            target=sub,
        )
    else:  # nobody to e-mail: the in-app notification still tells them
        Notification.objects.create(
            user=owner,
            event="webhook.disabled",
            family="delivery",
            subject=subject,
            body=body,
            url=sub.get_absolute_url(),
            content_type=ContentType.objects.get_for_model(sub),
            object_id=sub.pk,
        )


def subscription_get(pk: Any) -> WebhookSubscription:
    from core.ids import parse_id

    found = WebhookSubscription.objects.filter(pk=parse_id(pk) or 0).first()
    if found is None:
        raise NotFound("No such webhook subscription.")
    return found
