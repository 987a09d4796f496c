"""Delivery of outbox messages, for every channel. Safe to run twice: a message is claimed
with a row lock (SKIP LOCKED on PostgreSQL) and only a pending one is sent.

Each channel registers how it sends (``register_channel``): core sends e-mail; the
integrations app sends webhooks and connector pushes. A sender raises ``DeliveryFailed``
(or any exception) to be tried again later: after ``backoff`` (exponential, with jitter,
or the receiver's ``Retry-After``) until the channel's ``max_attempts``, then the message
is parked as failed (dead) and stays for an operator to redeliver.

Messages with the same ``order_key`` go one at a time in the order written: a message
waits while an earlier one of its key is pending (a retry holds back what follows it),
and when one is done the next of its key is handed to a worker at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.models import OutboxMessage

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A delivery that did not go through. ``retry_after`` (seconds) is what the receiver
    asked for (HTTP ``Retry-After``); ``permanent`` parks the message at once (a receiver
    that can never accept it, a subscription that no longer exists)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


Sender = Callable[[OutboxMessage], None]
Outcome = Callable[[OutboxMessage, "DeliveryResult"], None]


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt did, for the channel's ``after`` hook (run in the attempt's
    transaction: it may record the attempt, count failures, disable a subscription)."""

    ok: bool
    error: str = ""
    dead: bool = False
    retry_at: object = None  # datetime of the next try, when one is planned


@dataclass
class Channel:
    send: Sender
    max_attempts: Callable[[OutboxMessage], int] = field(
        default=lambda message: settings.OUTBOX_MAX_ATTEMPTS
    )
    after: Outcome | None = None
    # Days after which its delivered or dead messages are deleted (``outbox_purge_settled``);
    # None keeps them.
    keep_days: Callable[[], int] | None = None


_channels: dict[str, Channel] = {}


def register_channel(
    name: str,
    *,
    send: Sender,
    max_attempts: Callable[[OutboxMessage], int] | None = None,
    after: Outcome | None = None,
    keep_days: Callable[[], int] | None = None,
) -> None:
    """Say how messages of channel ``name`` are delivered (an ``AppConfig.ready()`` calls
    this), and how many days its settled messages are kept (``keep_days``, read at each
    purge; None: for ever). Registering again replaces the channel (tests swap a sender in)."""
    if name not in OutboxMessage.Channel.values:
        raise ValueError(f"Unknown outbox channel {name!r}.")
    channel = Channel(send=send, after=after, keep_days=keep_days)
    if max_attempts is not None:
        channel.max_attempts = max_attempts
    _channels[name] = channel


def backoff(attempts: int, *, retry_after: float | None = None) -> timedelta:
    """How long to wait before try ``attempts + 1``: the receiver's ``Retry-After`` when it
    gave one (up to a day), else exponential from ``OUTBOX_BACKOFF_SECONDS`` up to
    ``OUTBOX_BACKOFF_MAX_SECONDS`` with "equal jitter" (half fixed, half random), so the
    retries of many messages that failed together do not arrive together."""
    if retry_after is not None and retry_after >= 0:
        return timedelta(seconds=min(retry_after, 86_400))
    base = float(settings.OUTBOX_BACKOFF_SECONDS)
    cap = float(settings.OUTBOX_BACKOFF_MAX_SECONDS)
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))  # noqa: S311


def send_email(message: OutboxMessage) -> None:
    """The e-mail channel: plain text, with the HTML part and headers (threading,
    List-Unsubscribe, Auto-Submitted) the payload carries; both parts are rendered now
    (``core.mailout.message_parts``)."""
    from core.mailout import message_parts  # it reads the templates, at send time

    payload = message.payload or {}
    text, html = message_parts(message)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=text,
        from_email=payload.get("from") or settings.DEFAULT_FROM_EMAIL,
        to=message.recipients,
        headers=payload.get("headers") or {},
        reply_to=payload.get("reply_to") or None,
    )
    if html:
        email.attach_alternative(html, "text/html")
    email.send(fail_silently=False)


# No keep_days: an e-mail's row is kept. Each in-app notification points at it (and is
# deleted with it), and a reply that quotes only its Message-ID is matched to its ticket by
# it (integrations.mail.receive).
register_channel(OutboxMessage.Channel.EMAIL, send=send_email)


def _pending_before(order_key: Any, pk: Any) -> Any:
    """The pending messages of ``order_key`` written before ``pk`` (values or OuterRefs):
    while there is one, the message waits."""
    return OutboxMessage.objects.filter(
        status=OutboxMessage.Status.PENDING, order_key=order_key, pk__lt=pk
    ).exclude(order_key="")


def outbox_deliver_one(message_id: int) -> bool:
    """Try one pending message. Returns True when it was delivered by this call."""
    from core.services import _dispatch_outbox  # services import this module's caller

    following: int | None = None
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxMessage.Status.PENDING)
            .first()
        )
        if message is None:
            return False  # delivered already, or another worker holds it
        if message.order_key and _pending_before(message.order_key, message.pk).exists():
            return False  # an earlier message of its key goes first; it hands this one on
        channel = _channels.get(message.channel)
        message.attempts += 1
        try:
            if channel is None:
                raise DeliveryFailed(
                    f"No sender is registered for channel {message.channel!r}.", permanent=True
                )
            channel.send(message)
        except Exception as exc:  # any transport error: retry later, never lose it
            log.warning(
                "outbox %s (%s) failed (attempt %s): %s",
                message.pk,
                message.channel,
                message.attempts,
                exc,
            )
            message.last_error = str(exc)[:2000] or type(exc).__name__
            permanent = isinstance(exc, DeliveryFailed) and exc.permanent
            retry_after = exc.retry_after if isinstance(exc, DeliveryFailed) else None
            dead = permanent or message.attempts >= channel.max_attempts(message)
            if dead:
                message.status = OutboxMessage.Status.FAILED
                following = _next_of_key(message)
            else:
                message.available_at = timezone.now() + backoff(
                    message.attempts, retry_after=retry_after
                )
            message.save(update_fields=["attempts", "last_error", "status", "available_at"])
            if channel is not None and channel.after:
                channel.after(
                    message,
                    DeliveryResult(
                        ok=False,
                        error=message.last_error,
                        dead=dead,
                        retry_at=None if dead else message.available_at,
                    ),
                )
        else:
            message.status = OutboxMessage.Status.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
            message.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            if channel.after:
                channel.after(message, DeliveryResult(ok=True))
            following = _next_of_key(message)
        if following is not None:
            transaction.on_commit(lambda: _dispatch_outbox(following))
        return message.status == OutboxMessage.Status.SENT


def _next_of_key(message: OutboxMessage) -> int | None:
    if not message.order_key:
        return None
    return (
        OutboxMessage.objects.filter(
            status=OutboxMessage.Status.PENDING,
            order_key=message.order_key,
            pk__gt=message.pk,
            available_at__lte=timezone.now(),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def outbox_requeue(*, message_ids: list[int]) -> int:
    """Put failed (dead) messages back to pending, due now, with their tries counted
    afresh: an operator's "redeliver". Returns how many were requeued; each is handed to
    a worker after commit."""
    from core.services import _dispatch_outbox

    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=message_ids, status=OutboxMessage.Status.FAILED)
            .values_list("pk", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxMessage.Status.PENDING, attempts=0, available_at=timezone.now()
        )
        transaction.on_commit(lambda: [_dispatch_outbox(pk) for pk in sorted(ids)])
    return len(ids)


def outbox_pending_ids(limit: int = 200) -> list[int]:
    """Messages due now that may go now: the first pending one of each ``order_key``."""
    return list(
        OutboxMessage.objects.filter(
            status=OutboxMessage.Status.PENDING, available_at__lte=timezone.now()
        )
        .filter(Q(order_key="") | ~Exists(_pending_before(OuterRef("order_key"), OuterRef("pk"))))
        .order_by("available_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_purge_settled(*, now: datetime | None = None) -> dict[str, int]:
    """Daily (``core.tasks.outbox_purge_settled``): delete the delivered and the dead
    messages of each channel that has a ``keep_days``, written longer ago than that, with
    what cascades from them (a webhook's delivery and its tries). A pending message is
    never deleted, however old. In bounded batches (``core.retention``); safe to run twice.
    Returns the messages deleted by channel."""
    from core.retention import purge_in_batches

    now = now or timezone.now()
    purged: dict[str, int] = {}
    for name, channel in sorted(_channels.items()):
        if channel.keep_days is None:
            continue
        cutoff = now - timedelta(days=channel.keep_days())
        settled = OutboxMessage.objects.filter(channel=name, created_at__lt=cutoff).exclude(
            status=OutboxMessage.Status.PENDING
        )  # what the partial index outbox_settled_idx holds, in its order
        purged[str(name)] = purge_in_batches(settled, order_by=("created_at", "id"))
    return purged
