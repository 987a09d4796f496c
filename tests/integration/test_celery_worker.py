"""A real Celery worker, fed through a real broker, delivers an outbox notification.

Runs on Redis when REDIS_URL is set (CI), and on the embedded default's filesystem
transport always, so both brokers Tandem ships with are exercised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from kombu import pools as kombu_pools

from config.celery import app
from core.models import OutboxMessage
from itsm import services


def _wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(params=["redis", "filesystem"])
def broker(request, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs Redis: set REDIS_URL=redis://…")
        url, options = os.environ["REDIS_URL"], {}
    else:
        queue = tmp_path / "queue"
        queue.mkdir()
        url = "tandemfs://"
        options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(tmp_path / "processed"),
            "store_processed": False,
            "control_folder": str(tmp_path / "control"),
        }
    app.conf.broker_url, app.conf.broker_transport_options = url, options
    # Parallel test processes share one Redis: each needs its own queue, or one's worker
    # would run another's tasks against the wrong test database.
    saved_queue = app.conf.task_default_queue
    app.conf.task_default_queue = f"tandem-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    _reset_routing()
    _reset_connections()
    app.conf.task_always_eager = False
    yield request.param
    app.conf.broker_url, app.conf.broker_transport_options = saved
    app.conf.task_default_queue = saved_queue
    _reset_routing()
    _reset_connections()


def _reset_routing() -> None:
    """Forget the cached queue declarations and router, built from the old default queue."""
    for cached in ("queues", "router"):
        app.amqp.__dict__.pop(cached, None)


def _reset_connections() -> None:
    """Drop pooled connections so the next publish uses the broker configured now."""
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_worker_delivers_assignment_notice(
    broker, org, transactional_db, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(actor=org.requester, service=org.service, title="VPN")
    OutboxMessage.objects.all().delete()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
        message = OutboxMessage.objects.get(event="incident.assigned")
        assert _wait_for(lambda: OutboxMessage.objects.get(pk=message.pk).status == "sent"), (
            f"the worker did not deliver the notice over {broker}"
        )
    assert any(org.agent.email in m.to for m in mail.outbox)


def test_worker_runs_beats_sweep_and_escalates_a_breached_p1(broker, org, transactional_db) -> None:  # type: ignore[no-untyped-def]
    """The SLA done-when, through the broker: beat's sweep task breaches an untouched P1 and
    the hand-off task escalates it to the service's development team (tier 3)."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from itsm.models import Incident

    with time_machine.travel(timezone.now() - timedelta(minutes=31), tick=False):
        incident = services.incident_create(
            actor=org.requester,
            service=org.service,
            title="Payroll down",
            impact="high",
            urgency="high",
        )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.send_task("sla.tasks.clocks_sweep")  # what beat sends every SLA_SWEEP_SECONDS
        assert _wait_for(lambda: Incident.objects.get(pk=incident.pk).tier == 3), (
            f"the breach was not escalated over {broker}"
        )
    incident.refresh_from_db()
    assert incident.team == org.dev
    assert OutboxMessage.objects.filter(event="sla.breached").exists()
