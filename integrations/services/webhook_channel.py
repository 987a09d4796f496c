"""The outbox's "webhook" channel: sign at send time (Standard Webhooks, both secrets while a
rotation overlaps), POST through ``integrations.http`` (SSRF-safe), log every try
(``WebhookAttempt``), count dead deliveries in a row and disable a subscription that keeps
failing, telling its owner.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from core.models import Notification, OutboxMessage
from core.outbox import DeliveryFailed, DeliveryResult
from core.services import outbox_email
from integrations import http
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.services import webhooks
from integrations.webhooks import secrets

EXCERPT = 2000  # characters of a request's and an answer's body kept per try


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
        webhooks.disable_locked(sub, None, reason)
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
