"""Issue 14: operators can see Tandem is healthy.

/healthz answers while the process does, without the database; /readyz and ``manage.py
health`` check the database, the broker, beat's last SLA sweep and the outbox, turn red
(503, exit 1) naming what fails, and green again when it comes back.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from core import health
from core.models import Heartbeat, OutboxMessage
from core.outbox import outbox_deliver_one
from sla.tasks import clocks_sweep

CHECKS = ["database", "broker", "beat", "outbox"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def healthy(db, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The embedded default's broker in a folder of the test's own, and a sweep just run."""
    settings.CELERY_BROKER_URL = "tandemfs://"
    queue = str(tmp_path / "broker" / "queue")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "control_folder": str(tmp_path / "broker" / "control"),
    }
    clocks_sweep()  # what beat sends every SLA_SWEEP_SECONDS, run by a worker


def _readyz() -> tuple[int, dict]:  # type: ignore[type-arg]
    res = Client().get("/readyz")
    assert res["Content-Type"] == "application/json"
    return res.status_code, res.json()


def _failing(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [name for name, check in body["checks"].items() if check["status"] != "ok"]


def _outbox_message(available_at) -> OutboxMessage:  # type: ignore[no-untyped-def]
    return OutboxMessage.objects.create(
        event="incident.assigned",
        recipients=["agent@example.com"],
        subject="INC-1 assigned to you",
        body="…",
        available_at=available_at,
    )


# --- /healthz ---------------------------------------------------------------------------


def test_healthz_answers_without_the_database(db, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        res = Client().get("/healthz")
    assert res.status_code == 200
    assert res.json() == {"status": "ok"}
    assert "no-cache" in res["Cache-Control"]


def test_probes_answer_a_container_address_over_plain_http(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    """docker-compose.yml's healthcheck asks http://127.0.0.1:8000/readyz, which is neither an
    allowed host nor HTTPS in production: the probes must answer it all the same."""
    settings.ALLOWED_HOSTS = ["tandem.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="127.0.0.1:8000")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 400  # every other page keeps the host check


def test_probes_are_read_only(healthy) -> None:  # type: ignore[no-untyped-def]
    assert Client().post("/readyz").status_code == 405
    assert Client().post("/healthz").status_code == 405


# --- /readyz ----------------------------------------------------------------------------


def test_readyz_is_green_when_everything_runs(healthy) -> None:  # type: ignore[no-untyped-def]
    status, body = _readyz()
    assert status == 200, body
    assert body["status"] == "ok"
    assert list(body["checks"]) == CHECKS
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["broker"]["latency_ms"] >= 0
    assert body["checks"]["beat"]["age_seconds"] <= 1
    assert body["checks"]["outbox"]["age_seconds"] == 0


def test_readyz_is_never_cached(healthy) -> None:  # type: ignore[no-untyped-def]
    res = Client().get("/readyz")
    assert "no-cache" in res["Cache-Control"] and "max-age=0" in res["Cache-Control"]


def test_readyz_is_red_while_the_broker_is_unreachable_and_green_when_it_returns(  # type: ignore[no-untyped-def]
    healthy, settings
) -> None:
    embedded = settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    status, body = _readyz()
    assert status == 503
    assert body["status"] == "error"
    assert _failing(body) == ["broker"]
    assert "Connection refused" in body["checks"]["broker"]["detail"]

    settings.CELERY_BROKER_URL = embedded
    status, body = _readyz()
    assert status == 200 and _failing(body) == []


def test_readyz_names_no_secret_of_the_broker(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = f"redis://:hunter2secret@127.0.0.1:{_closed_port()}/0"
    res = Client().get("/readyz")
    assert res.status_code == 503
    assert b"hunter2secret" not in res.content
    assert b"redis://" not in res.content  # no URL at all


def test_redact_masks_credentials_in_urls_and_the_configured_passwords(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "redis://:brokerpass@redis:6379/0"
    text = health.redact("failed postgres://tandem:dbpass@db/tandem and brokerpass again")
    assert "dbpass" not in text and "brokerpass" not in text
    assert "postgres://***@db/tandem" in text


def test_readyz_is_red_when_the_filesystem_queue_cannot_take_a_message(  # type: ignore[no-untyped-def]
    healthy, settings, tmp_path: Path
) -> None:
    """The embedded default's broker has no server to reach: what sending a task needs is a
    queue folder that takes a file."""
    good = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the queue folder should be")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **good,
        "data_folder_in": str(blocker / "queue"),
        "data_folder_out": str(blocker / "queue"),
    }
    status, body = _readyz()
    assert status == 503 and _failing(body) == ["broker"]
    assert "queue folder" in body["checks"]["broker"]["detail"]

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = good
    assert _readyz()[0] == 200


@pytest.mark.redis
def test_readyz_reaches_the_configured_redis(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = django_settings.REDIS_URL
    status, body = _readyz()
    assert status == 200, body
    assert body["checks"]["broker"]["detail"].startswith("redis answered in")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_readyz_follows_a_redis_broker_that_stops_and_comes_back(  # type: ignore[no-untyped-def]
    healthy, settings, tmp_path: Path
) -> None:
    """The acceptance line, for the broker: a real redis-server of the test's own."""
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(
            [
                str(shutil.which("redis-server")),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp_path),
                "--save",
                "",
                "--appendonly",
                "no",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                return server
            except redis.ConnectionError:
                time.sleep(0.1)
        server.kill()
        pytest.fail("the private redis-server did not start")

    def stop(server: subprocess.Popen[bytes]) -> None:
        server.terminate()
        server.wait(timeout=20)

    server = start()
    try:
        assert _readyz()[0] == 200
        stop(server)
        status, body = _readyz()
        assert status == 503 and _failing(body) == ["broker"]
        server = start()
        status, body = _readyz()
        assert status == 200, body
    finally:
        if server.poll() is None:
            stop(server)


def test_readyz_is_red_when_beat_stops_and_green_when_it_returns(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    limit = settings.HEALTH_SLA_SWEEP_MAX_AGE_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=limit - 5), tick=False):
        assert _readyz()[0] == 200  # a late sweep is not an alarm yet
    with time_machine.travel(timezone.now() + timedelta(seconds=limit + 5), tick=False):
        status, body = _readyz()
        assert status == 503 and _failing(body) == ["beat"]
        beat = body["checks"]["beat"]
        assert limit + 4 <= beat["age_seconds"] <= limit + 6
        assert "SLA sweep" in beat["detail"]

        clocks_sweep()  # beat is back: its next sweep runs
        status, body = _readyz()
        assert status == 200, body
        assert body["checks"]["beat"]["age_seconds"] == 0


def test_readyz_is_red_before_any_sweep_has_run(healthy) -> None:  # type: ignore[no-untyped-def]
    Heartbeat.objects.all().delete()
    status, body = _readyz()
    assert status == 503 and _failing(body) == ["beat"]
    assert "no SLA sweep" in body["checks"]["beat"]["detail"]


def test_only_a_sweep_that_finishes_is_a_heartbeat(healthy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sla import services

    before = Heartbeat.objects.get(name=health.SLA_SWEEP).at

    def broken_sweep() -> int:
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(services, "clocks_sweep", broken_sweep)
    later = timezone.now() + timedelta(minutes=1)
    with time_machine.travel(later, tick=False), pytest.raises(RuntimeError):
        clocks_sweep()
    assert Heartbeat.objects.get(name=health.SLA_SWEEP).at == before


def test_readyz_is_red_while_an_outbox_message_waits_too_long(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    limit = settings.HEALTH_OUTBOX_MAX_AGE_SECONDS
    now = timezone.now()
    _outbox_message(now - timedelta(seconds=limit / 2))  # due, not late yet
    # Created long ago but waiting for its retry's back-off: not due, not late.
    backing_off = _outbox_message(now + timedelta(minutes=10))
    OutboxMessage.objects.filter(pk=backing_off.pk).update(created_at=now - timedelta(days=1))
    assert _readyz()[0] == 200

    stuck = _outbox_message(now - timedelta(seconds=limit + 60))
    status, body = _readyz()
    assert status == 503 and _failing(body) == ["outbox"]
    assert limit + 59 <= body["checks"]["outbox"]["age_seconds"] <= limit + 61

    assert outbox_deliver_one(stuck.pk)  # delivery runs again
    status, body = _readyz()
    assert status == 200, body
    assert body["checks"]["outbox"]["age_seconds"] <= limit / 2 + 1


def test_a_failed_outbox_message_is_not_pending(healthy, settings) -> None:  # type: ignore[no-untyped-def]
    message = _outbox_message(timezone.now() - timedelta(days=1))
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.FAILED)
    assert _readyz()[0] == 200


def test_readyz_names_the_database_error_instead_of_a_500(healthy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.db import OperationalError

    def down() -> health.CheckResult:
        raise OperationalError("connection to server failed")

    monkeypatch.setitem(health.CHECKS, "database", down)
    status, body = _readyz()
    assert status == 503 and _failing(body) == ["database"]
    assert body["checks"]["database"]["detail"] == ("OperationalError: connection to server failed")


# --- manage.py health -------------------------------------------------------------------


def test_command_prints_every_check_and_exits_0_when_healthy(healthy, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("health")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == CHECKS
    assert all(line.split()[1] == "ok" for line in lines)


def test_command_exits_1_naming_the_failing_check(healthy, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    with pytest.raises(SystemExit) as exited:
        call_command("health")
    assert exited.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines if "error" in line] == [["broker", "error"]]


def test_command_json_is_the_body_of_readyz(healthy, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    limit = settings.HEALTH_SLA_SWEEP_MAX_AGE_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=limit + 5), tick=False):
        with pytest.raises(SystemExit) as exited:
            call_command("health", "--json")
        body = json.loads(capsys.readouterr().out)
        assert exited.value.code == 1
        assert body["status"] == "error" and _failing(body) == ["beat"]
        assert list(body["checks"]) == list(_readyz()[1]["checks"])


def test_command_only_runs_the_checks_asked_for(healthy, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    """`--only beat` is beat's container healthcheck: a broken broker is not beat's fault."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    call_command("health", "--only", "beat", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "ok" and list(body["checks"]) == ["beat"]


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_healthchecks_use_the_probes() -> None:
    compose = yaml.safe_load((Path(django_settings.BASE_DIR) / "docker-compose.yml").read_text())
    services = compose["services"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web
    worker = " ".join(services["worker"]["healthcheck"]["test"])
    assert "inspect ping" in worker
    beat = services["beat"]["healthcheck"]["test"]
    assert beat[-4:] == ["manage.py", "health", "--only", "beat"]
    assert "healthcheck" not in services["migrate"]  # a one-shot job is never "healthy"
