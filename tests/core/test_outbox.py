from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.models import OutboxMessage
from core.outbox import outbox_deliver_one, outbox_pending_ids
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

    monkeypatch.setattr("django.core.mail.EmailMessage.send", smtp_down)
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


# --- channels, order, back-off (issue 15: webhooks and connector pushes share the outbox) ---
def _message(channel: str = "webhook", key: str = "", **payload) -> OutboxMessage:  # type: ignore[no-untyped-def]
    return OutboxMessage.objects.create(
        channel=channel,
        event="t",
        subject="s",
        body="",
        available_at=timezone.now(),
        order_key=key,
        payload=payload,
    )


class _Receiver:
    """A channel's sender that records what it was given and fails as told."""

    def __init__(self, fail: list[Exception | None] | None = None) -> None:
        self.sent: list[int] = []
        self.fail = list(fail or [])
        self.outcomes: list[tuple[int, bool, bool]] = []

    def send(self, message: OutboxMessage) -> None:
        error = self.fail.pop(0) if self.fail else None
        if error is not None:
            raise error
        self.sent.append(message.pk)

    def after(self, message: OutboxMessage, result) -> None:  # type: ignore[no-untyped-def]
        self.outcomes.append((message.pk, result.ok, result.dead))


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    from core import outbox

    saved = dict(outbox._channels)
    r = _Receiver()
    outbox.register_channel("webhook", send=r.send, after=r.after, max_attempts=lambda m: 3)
    yield r
    outbox._channels.clear()
    outbox._channels.update(saved)


def test_unknown_channel_is_refused() -> None:
    from core.outbox import register_channel

    with pytest.raises(ValueError, match="Unknown outbox channel"):
        register_channel("pigeon", send=lambda m: None)


def test_messages_of_one_key_go_in_order_and_a_retry_holds_back_what_follows(
    db, receiver, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from core.outbox import DeliveryFailed

    first, second, third = (_message(key="sub1:incident:7") for _ in range(3))
    other = _message(key="sub1:incident:8")
    receiver.fail = [DeliveryFailed("503", retry_after=120)]
    # only the head of each key is due; the other key is not held back by this one
    assert outbox_pending_ids() == [first.pk, other.pk]
    assert outbox_deliver_one(second.pk) is False  # waits for the first
    assert outbox_deliver_one(first.pk) is False  # fails: retried after Retry-After
    first.refresh_from_db()
    assert first.status == "pending"
    assert timedelta(seconds=119) < first.available_at - timezone.now() <= timedelta(seconds=120)
    assert outbox_pending_ids() == [other.pk]  # the first is not due, the rest wait behind it
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert outbox_deliver_one(first.pk) is True
        assert len(callbacks) == 1  # hands the next of its key on after commit
        assert outbox_deliver_one(second.pk) is True
        assert outbox_deliver_one(third.pk) is True
    assert receiver.sent == [first.pk, second.pk, third.pk]
    assert receiver.outcomes[0] == (first.pk, False, False)


def test_a_permanent_failure_parks_at_once_and_lets_the_next_go(db, receiver) -> None:  # type: ignore[no-untyped-def]
    from core.outbox import DeliveryFailed, outbox_requeue

    first, second = _message(key="k"), _message(key="k")
    receiver.fail = [DeliveryFailed("gone", permanent=True)]
    assert outbox_deliver_one(first.pk) is False
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("failed", 1)
    assert receiver.outcomes == [(first.pk, False, True)]
    assert outbox_deliver_one(second.pk) is True  # a dead message blocks nothing
    # an operator redelivers it: pending again, tries counted afresh, then sent
    assert outbox_requeue(message_ids=[first.pk, second.pk]) == 1  # the sent one stays sent
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("pending", 0)
    assert outbox_deliver_one(first.pk) is True


def test_a_channel_parks_after_its_own_number_of_tries(db, receiver) -> None:  # type: ignore[no-untyped-def]
    msg = _message()
    receiver.fail = [OSError("refused")] * 3
    for minutes in (0, 70, 140):
        with time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False):
            outbox_deliver_one(msg.pk)
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("failed", 3)


def test_backoff_grows_with_jitter_and_honours_retry_after(settings) -> None:  # type: ignore[no-untyped-def]
    from core.outbox import backoff

    settings.OUTBOX_BACKOFF_SECONDS = 10
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 100
    waits = [backoff(3).total_seconds() for _ in range(50)]
    assert all(20 <= w <= 40 for w in waits) and len(set(waits)) > 1  # 40 s, jittered
    assert all(50 <= backoff(9).total_seconds() <= 100 for _ in range(20))  # capped
    assert backoff(1, retry_after=7).total_seconds() == 7
    assert backoff(1, retry_after=10**9).total_seconds() == 86_400


def test_an_email_carries_its_html_and_headers(db) -> None:  # type: ignore[no-untyped-def]
    msg = _message(
        channel="email",
        html="<p>Hello</p>",
        headers={"Message-ID": "<inc-1@tandem.test>", "In-Reply-To": "<inc-0@tandem.test>"},
    )
    msg.recipients = ["a@x.test"]
    msg.body = "Hello"
    msg.save()
    assert outbox_deliver_one(msg.pk) is True
    sent = mail.outbox[-1]
    assert sent.extra_headers["In-Reply-To"] == "<inc-0@tandem.test>"
    assert sent.alternatives[0][0] == "<p>Hello</p>"


def test_a_message_whose_channel_has_no_sender_is_parked_at_once(db) -> None:  # type: ignore[no-untyped-def]
    from core import outbox

    saved = dict(outbox._channels)
    outbox._channels.pop("connector", None)
    try:
        msg = _message(channel="connector")
        assert outbox_deliver_one(msg.pk) is False
    finally:
        outbox._channels.clear()
        outbox._channels.update(saved)
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("failed", 1)
    assert "No sender is registered" in msg.last_error
