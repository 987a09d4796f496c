"""Outbound webhooks: the subscriptions' write path (create, change, rotate the secret,
enable, disable, ping, redeliver). The deliveries written when records change are
``webhook_events``'; the outbox channel that sends them is ``webhook_channel``.

Each write is one transaction with one audit row on the subscription (never a secret in
it); the secret is returned to the caller to show once.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import refcache
from core.exceptions import ActionForbidden, IllegalTransition, NotFound, ValidationFailed
from core.models import OutboxMessage, Service
from core.outbox import outbox_requeue
from core.services import audit_record
from integrations import http
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.permissions import can_allow_private_receivers, can_manage_webhooks
from integrations.services import webhook_events
from integrations.webhooks import catalogue, secrets

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
        disable_locked(sub, actor, reason or "Turned off.")
    return sub


def disable_locked(sub: WebhookSubscription, actor: Any, reason: str) -> None:
    """Turn off a subscription the caller holds locked (by a person, or by Tandem when it
    keeps failing: ``actor`` None), with its audit row."""
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
        return webhook_events.write_delivery(
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


def subscription_get(pk: Any) -> WebhookSubscription:
    from core.ids import parse_id

    found = WebhookSubscription.objects.filter(pk=parse_id(pk) or 0).first()
    if found is None:
        raise NotFound("No such webhook subscription.")
    return found
