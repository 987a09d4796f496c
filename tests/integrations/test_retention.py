"""Retention of the integration logs: the inbound connector webhooks (InboundDelivery,
CONNECTOR_DELIVERY_RETENTION_DAYS) and the settled outbox messages of the webhook and
connector channels (WEBHOOK_DELIVERY_RETENTION_DAYS, CONNECTOR_PUSH_RETENTION_DAYS), purged
daily by beat in bounded batches; e-mail outbox rows are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core.models import Notification, NotificationFamily, OutboxMessage
from core.outbox import outbox_purge_settled
from core.tasks import outbox_purge_settled as outbox_purge_task
from integrations.models import (
    Connector,
    InboundDelivery,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.services import webhooks as hooks
from integrations.services.connectors import inbound_deliveries_purge
from integrations.tasks import connector_deliveries_purge
from tests.integrations.test_connectors import (
    applied_then_edited_here,
    webhook_post,
)

ROOT = Path(__file__).resolve().parents[2]


def test_beat_runs_both_purges_once_a_day(settings) -> None:  # type: ignore[no-untyped-def]
    schedule = settings.CELERY_BEAT_SCHEDULE
    inbound = schedule["connector-deliveries-purge"]
    assert inbound["task"] == "integrations.tasks.connector_deliveries_purge"
    outbox = schedule["outbox-purge-settled"]
    assert outbox["task"] == "core.tasks.outbox_purge_settled"
    for entry in (inbound, outbox):
        cron = entry["schedule"]
        assert len(cron.hour) == 1 and len(cron.minute) == 1  # once a day
    assert settings.CONNECTOR_DELIVERY_RETENTION_DAYS == 30


def _delivery(connector: Connector, identifier: str, outcome: str = "applied") -> InboundDelivery:
    return InboundDelivery.objects.create(
        connector=connector,
        identifier=identifier,
        outcome=outcome,
        status_code=200 if outcome == "applied" else 401,
    )


@pytest.fixture
def quiet_connector(bot: Any) -> Connector:
    """A connector row, no fake tracker needed (the purge never calls it)."""
    return Connector.objects.create(
        name="Quiet", base_url="https://jira.example.test", auth_email="b@x.test", actor=bot
    )


def test_inbound_deliveries_past_the_retention_are_purged_and_the_rest_kept(  # type: ignore[no-untyped-def]
    quiet_connector,
) -> None:
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        old = [_delivery(quiet_connector, f"old-{n}") for n in range(3)]
        _delivery(quiet_connector, "", "rejected")  # refused ones go too
    with time_machine.travel(start - timedelta(days=29), tick=False):
        recent = _delivery(quiet_connector, "recent")
    with time_machine.travel(start, tick=False):
        assert connector_deliveries_purge() == 4
        assert connector_deliveries_purge() == 0  # safe to run twice
    assert list(InboundDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not InboundDelivery.objects.filter(pk__in=[d.pk for d in old]).exists()


def test_a_run_is_bounded_and_the_next_takes_the_rest(quiet_connector, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETENTION_BATCH_SIZE = 2
    settings.RETENTION_MAX_BATCHES = 2
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=31), tick=False):
        for n in range(5):
            _delivery(quiet_connector, f"d-{n}")
    with time_machine.travel(start, tick=False):
        assert inbound_deliveries_purge() == 4  # two batches of two
        assert list(InboundDelivery.objects.values_list("identifier", flat=True)) == ["d-4"]
        assert inbound_deliveries_purge() == 1
    assert not InboundDelivery.objects.exists()


def test_a_retention_shorter_than_the_replay_window_is_refused(quiet_connector, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CONNECTOR_WEBHOOK_MAX_AGE_SECONDS = 86_400
    settings.CONNECTOR_DELIVERY_RETENTION_DAYS = 1
    with pytest.raises(ImproperlyConfigured):
        inbound_deliveries_purge()


def _settings_load(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_settings_refuse_a_retention_that_would_reopen_replays() -> None:
    refused = _settings_load(
        CONNECTOR_WEBHOOK_MAX_AGE_SECONDS="50000", CONNECTOR_DELIVERY_RETENTION_DAYS="1"
    )
    assert refused.returncode != 0
    assert "CONNECTOR_DELIVERY_RETENTION_DAYS must cover twice" in refused.stderr
    assert _settings_load(WEBHOOK_DELIVERY_RETENTION_DAYS="0").returncode != 0
    started = _settings_load(
        CONNECTOR_WEBHOOK_MAX_AGE_SECONDS="43200", CONNECTOR_DELIVERY_RETENTION_DAYS="1"
    )
    assert started.returncode == 0, started.stderr


def test_a_webhook_replayed_after_its_guard_row_was_purged_is_still_refused(  # type: ignore[no-untyped-def]
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """Why deleting the replay guard after the retention is safe: by then the same signed
    body is refused as stale (its timestamp is signed with it)."""
    defect, payload, api = applied_then_edited_here(
        org, project, connector, fake_jira, django_capture_on_commit_callbacks
    )
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert inbound_deliveries_purge() == 1
        assert not InboundDelivery.objects.filter(identifier="wh-1").exists()
        replay = webhook_post(api, connector, fake_jira, payload, identifier="wh-1")
    assert replay.status_code == 400 and replay.json()["code"] == "stale"
    defect.refresh_from_db()
    assert defect.title == "Tandem's title"


# --- the outbox's settled messages -----------------------------------------------------------
def _message(channel: str, status: str, **fields: Any) -> OutboxMessage:
    return OutboxMessage.objects.create(
        channel=channel,
        event="x.happened",
        recipients=["a@example.test"] if channel == "email" else [],
        subject="s",
        body="b",
        status=status,
        available_at=timezone.now(),
        **fields,
    )


def _webhook_delivery(sub: Any, status: str, n: int) -> WebhookDelivery:
    message = _message("webhook", status)
    delivery = WebhookDelivery.objects.create(
        subscription=sub, message=message, webhook_id=f"msg_{status}_{n}", event_type="x"
    )
    WebhookAttempt.objects.create(delivery=delivery, attempted_at=timezone.now(), url=sub.url)
    return delivery


def test_settled_webhook_deliveries_and_pushes_go_after_their_retention(  # type: ignore[no-untyped-def]
    org, settings
) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    settings.CONNECTOR_PUSH_RETENTION_DAYS = 10
    sub, _ = hooks.subscription_create(
        actor=org.admin,
        data=hooks.SubscriptionInput(
            name="Bus", url="https://hooks.example.test/x", event_types=["incident.created"]
        ),
    )
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        sent = _webhook_delivery(sub, "sent", 1)
        dead = _webhook_delivery(sub, "failed", 2)
        pending = _webhook_delivery(sub, "pending", 3)  # never, however old
        email = _message("email", "sent")
        note = Notification.objects.create(
            user=org.agent,
            event="x",
            family=NotificationFamily.values[0],
            subject="s",
            outbox_message=email,
        )
        old_push = _message("connector", "sent")
    with time_machine.travel(start - timedelta(days=20), tick=False):
        recent = _webhook_delivery(sub, "sent", 4)
        push_past_its_ten_days = _message("connector", "failed")
    with time_machine.travel(start - timedelta(days=5), tick=False):
        recent_push = _message("connector", "sent")
    with time_machine.travel(start, tick=False):
        assert outbox_purge_settled() == {"connector": 2, "webhook": 2}
        assert outbox_purge_task() == {"connector": 0, "webhook": 0}  # safe to run twice
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        pending.message_id,
        recent.message_id,
        email.pk,
        recent_push.pk,
    }
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert set(WebhookAttempt.objects.values_list("delivery_id", flat=True)) == {
        pending.pk,
        recent.pk,
    }
    assert Notification.objects.filter(pk=note.pk).exists()  # e-mail rows are kept
    assert not OutboxMessage.objects.filter(
        pk__in=[sent.message_id, dead.message_id, old_push.pk, push_past_its_ten_days.pk]
    ).exists()
