"""Writes every app shares: audit rows, comments, outbox messages, human keys.

They never open a transaction of their own: they are called inside the caller's
``transaction.atomic()`` so that the audit row, the outbox row and the change they
describe commit or roll back together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from core.models import AuditEvent, Comment, OutboxMessage, Sequence, Team

log = logging.getLogger(__name__)

# Set while history is backfilled (demo data, imports): those events happened "then",
# so nobody is notified of them now.
_outbox_suppressed: ContextVar[bool] = ContextVar("outbox_suppressed", default=False)


@contextmanager
def outbox_suppressed() -> Iterator[None]:
    token = _outbox_suppressed.set(True)
    try:
        yield
    finally:
        _outbox_suppressed.reset(token)


# Set while backfilled history is replayed through the services: the audit rows written
# are dated at the moment they stand for (the SLA engine times its clocks by them).
_history_moment: ContextVar[datetime | None] = ContextVar("history_moment", default=None)


@contextmanager
def history_at(moment: datetime) -> Iterator[None]:
    """Write audit rows as of ``moment`` (demo data and imports only; notices stay off
    through ``outbox_suppressed``)."""
    token = _history_moment.set(moment)
    try:
        yield
    finally:
        _history_moment.reset(token)


def sequence_next(name: str) -> int:
    """Take the next number of a human-key sequence (locks its row until commit)."""
    Sequence.objects.get_or_create(name=name)
    row = Sequence.objects.select_for_update().get(name=name)
    row.last_value += 1
    row.save(update_fields=["last_value"])
    return row.last_value


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit_record(
    *,
    target: models.Model,
    actor: AbstractBaseUser | None,
    action: str,
    from_state: str = "",
    to_state: str = "",
    changes: dict[str, tuple[Any, Any]] | None = None,
    comment: str = "",
) -> AuditEvent:
    """Write one audit row. ``changes`` maps a field to its (old, new) values."""
    event = AuditEvent.objects.create(
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        changes={k: [_jsonable(old), _jsonable(new)] for k, (old, new) in (changes or {}).items()},
        comment=comment,
    )
    moment = _history_moment.get()
    if moment is not None:  # created_at is auto_now_add: date the backfilled row after
        AuditEvent.objects.filter(pk=event.pk).update(created_at=moment)
        event.created_at = moment
    return event


def comment_create(
    *, target: models.Model, author: AbstractBaseUser, body: str, public: bool
) -> Comment:
    return Comment.objects.create(
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        author=author,
        body=body,
        public=public,
    )


def team_recipients(team: Team | None) -> list[str]:
    """Where a notice to a team goes: its distribution list, else its members."""
    if team is None:
        return []
    if team.email:
        return [team.email]
    return sorted({u.email for u in team.members.all() if u.email})


def outbox_email(
    *,
    event: str,
    recipients: Iterable[str | None],
    subject: str,
    body: str,
    target: models.Model | None = None,
) -> OutboxMessage | None:
    """Queue an email to be sent after the surrounding transaction commits.

    Nothing is queued when no recipient has an address, or inside ``outbox_suppressed()``.
    """
    to = sorted({r for r in recipients if r})
    if not to or _outbox_suppressed.get():
        return None
    message = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.EMAIL,
        event=event,
        recipients=to,
        subject=subject[:255],
        body=body,
        available_at=timezone.now(),
        content_type=ContentType.objects.get_for_model(target) if target is not None else None,
        object_id=target.pk if target is not None else None,
    )
    transaction.on_commit(lambda: _dispatch_outbox(message.pk))
    return message


def _dispatch_outbox(message_id: int) -> None:
    """Hand the message to a worker. If the broker is unreachable the change has still
    committed; the periodic outbox sweep delivers the message later."""
    from core.tasks import outbox_deliver  # tasks import this module

    try:
        outbox_deliver.delay(message_id)
    except Exception:  # broker down: never fail the request that already committed
        log.warning("outbox %s: broker unavailable, left for the sweep", message_id, exc_info=True)
