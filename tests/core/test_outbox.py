from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from core.models import OutboxMessage
from core.outbox import outbox_deliver_one
from core.services import outbox_email, outbox_suppressed
from core.tasks import outbox_deliver_pending


def test_delivers_once(db) -> None:  # type: ignore[no-untyped-def]
    msg = outbox_email(event="t", recipients=["a@x.test", None, "a@x.test"], subject="s", body="b")
    assert msg is not None and msg.recipients == ["a@x.test"]
    assert outbox_deliver_one(msg.pk) is True
    assert outbox_deliver_one(msg.pk) is False  # safe to run twice
    assert len(mail.outbox) == 1
    msg.refresh_from_db()
    assert msg.status == "sent" and msg.attempts == 1 and msg.sent_at


def test_no_recipient_no_message(db) -> None:  # type: ignore[no-untyped-def]
    assert outbox_email(event="t", recipients=[None, ""], subject="s", body="b") is None
    with outbox_suppressed():
        assert outbox_email(event="t", recipients=["a@x.test"], subject="s", body="b") is None
    assert OutboxMessage.objects.count() == 0


def test_failure_is_retried_with_backoff_then_marked_failed(db, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOX_MAX_ATTEMPTS = 2
    msg = outbox_email(event="t", recipients=["a@x.test"], subject="s", body="b")

    def smtp_down(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")

    monkeypatch.setattr("core.outbox.send_mail", smtp_down)
    assert outbox_deliver_one(msg.pk) is False
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("pending", 1)
    assert msg.available_at > timezone.now()
    assert "connection refused" in msg.last_error
    assert outbox_deliver_pending() == 0  # not due yet
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        outbox_deliver_pending()
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("failed", 2)


def test_sweep_delivers_what_the_after_commit_task_missed(db) -> None:  # type: ignore[no-untyped-def]
    # outside on-commit capture the after-commit task never ran (as when the broker was down)
    outbox_email(event="t", recipients=["a@x.test"], subject="s1", body="b")
    outbox_email(event="t", recipients=["b@x.test"], subject="s2", body="b")
    assert OutboxMessage.objects.filter(status="pending").count() == 2
    assert outbox_deliver_pending() == 2
    assert OutboxMessage.objects.filter(status="sent").count() == 2


def test_broker_down_does_not_break_the_committed_request(
    db, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from core import tasks

    def broker_down(*a, **k):  # type: ignore[no-untyped-def]
        raise ConnectionError("redis unavailable")

    monkeypatch.setattr(tasks.outbox_deliver, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_email(event="t", recipients=["a@x.test"], subject="s", body="b")
    assert OutboxMessage.objects.get().status == "pending"
