"""Issue 10 #6: a real worker and beat live through their Redis going away and coming back.

A private redis-server (on a free port, with the append-only file Tandem's docker-compose.yml
uses) feeds a worker and a beat started as subprocesses with the commands of
docker-compose.yml, on the test database. Notices are sent before the outage. Redis is
stopped while deliveries are running: with acks_late their messages are unacknowledged, the
case that made the worker exit with "'NoneType' object has no attribute 'hostname'". Notices
are raised and an SLA breaches while Redis is away, then it comes back. With no manual step,
every notice is delivered exactly once, the SLA sweep escalates the breach, and the worker and
beat are the same processes, still running, with no traceback.
"""

from __future__ import annotations

import contextlib
import email
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import time_machine
import yaml
from django.conf import settings
from django.utils import timezone
from kombu import pools as kombu_pools

from config.celery import app
from core.models import OutboxMessage
from itsm import services
from itsm.models import Incident

REDIS_SERVER = shutil.which("redis-server")
OUTAGE_SECONDS = 12.0

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,  # the subprocesses share the test database: not an in-memory SQLite
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server binary"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


class PrivateRedis:
    """A redis-server of this test's own, stopped and started again on the same port and data."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        assert _wait_for(answers, 20), "the private redis-server did not start"

    def stop(self) -> None:
        """What `redis-cli shutdown` does: the server closes its clients and exits (the
        append-only file keeps every write it acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(redis.ConnectionError):  # it closes it as it goes
                redis.Redis(port=self.port).shutdown(nosave=True)
            self.process.wait(timeout=20)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _compose_command(service: str) -> list[str]:
    """The command docker-compose.yml runs for a service, from this venv."""
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    command = list(compose["services"][service]["command"])
    assert command[0] == "celery"
    return [str(Path(sys.executable).parent / "celery"), *command[1:]]


def _database_url() -> str:
    db = settings.DATABASES["default"]  # the test database while the test runs
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _mails(folder: Path) -> Counter[tuple[str, str]]:
    """(subject, recipients) of every message the file-based e-mail backend wrote."""
    sent: Counter[tuple[str, str]] = Counter()
    for path in folder.glob("*.log"):
        for chunk in path.read_text().split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                message = email.message_from_string(chunk)
                sent[(message["Subject"], message["To"])] += 1
    return sent


def _notices() -> Counter[tuple[str, str]]:
    return Counter(
        (m.subject, ", ".join(m.recipients)) for m in OutboxMessage.objects.all() if m.recipients
    )


def _all_sent() -> bool:
    return not OutboxMessage.objects.exclude(status=OutboxMessage.Status.SENT).exists()


@pytest.fixture
def private_redis(tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    # This process publishes (after commit) to the private Redis too.
    saved = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.broker_transport_options = server.url, {}
    app.conf.task_always_eager = False
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    yield server
    app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager = saved
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    server.stop()


def test_issue10_worker_and_beat_survive_redis_going_away(
    org, transactional_db, private_redis, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #6: Redis stops for a while under a running worker and beat, then returns:
    every notice is delivered exactly once, the SLA sweep runs again, nobody restarts
    anything, and the worker process is still the one that started."""
    mail_dir = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": private_redis.url,
        "TANDEM_DATA_DIR": str(tmp_path / "data"),
        "EMAIL_BACKEND": "tests.integration.slow_mail.EmailBackend",  # slow on purpose
        "EMAIL_FILE_PATH": str(mail_dir),
        "OUTBOX_SWEEP_SECONDS": "1",
        "SLA_SWEEP_SECONDS": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    started: list[subprocess.Popen[bytes]] = []
    try:
        for command, log in (
            (_compose_command("worker"), worker_log),
            (_compose_command("beat") + [f"--pidfile={tmp_path / 'beat.pid'}"], beat_log),
        ):
            with open(log, "wb") as out:
                started.append(
                    subprocess.Popen(
                        command,
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        worker, beat = started
        assert _wait_for(lambda: "ready." in worker_log.read_text(), 90), worker_log.read_text()

        # Before the outage: a notice goes through the broker to the worker.
        before = services.incident_create(actor=org.requester, service=org.service, title="VPN")
        services.incident_assign(incident=before, actor=org.agent, assignee=org.agent)
        assert _wait_for(_all_sent, 30), "no delivery before the outage"

        # A delivery is running when Redis goes away, and until after it is back: its message
        # is unacknowledged (acks_late) while the worker waits on Redis for more.
        mark = len(worker_log.read_text())
        slow = services.incident_create(
            actor=org.requester, service=org.service, title="Printer (long)"
        )
        services.incident_assign(incident=slow, actor=org.agent, assignee=org.agent)
        assert _wait_for(lambda: "outbox_deliver[" in worker_log.read_text()[mark:], 10)
        time.sleep(3)
        private_redis.stop()
        away_since = time.monotonic()
        # While Redis is away: notices are raised (their dispatch fails, they stay pending)
        # and a P1 that nobody answered for 31 minutes is due for the SLA sweep.
        during = services.incident_create(actor=org.requester, service=org.service, title="Mail")
        services.incident_assign(incident=during, actor=org.agent, assignee=org.agent)
        with time_machine.travel(timezone.now() - timedelta(minutes=31), tick=False):
            breached = services.incident_create(
                actor=org.requester,
                service=org.service,
                title="Payroll down",
                impact="high",
                urgency="high",
            )
        assert not _all_sent()
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - away_since)))
        assert worker.poll() is None, "the worker died while Redis was away"
        private_redis.start()

        # No manual step: the sweep escalates the breach, every notice goes out.
        assert _wait_for(lambda: Incident.objects.get(pk=breached.pk).tier == 3, 90), (
            "the SLA sweep did not resume\n" + worker_log.read_text()
        )
        assert _wait_for(_all_sent, 60), "notices stayed pending\n" + worker_log.read_text()
        time.sleep(2)  # a duplicate delivery would have time to show
        assert sum(_notices().values()) >= 3  # before, during and about the breach
        assert _mails(mail_dir) == _notices(), "a notice was not delivered exactly once"

        assert worker.poll() is None and beat.poll() is None, "the worker or beat exited"
        output = worker_log.read_text()
        assert output.count("Connected to redis") >= 2, output  # it reconnected by itself
        assert "Unrecoverable error" not in output, output
        assert "Traceback" not in output, output
    finally:
        for process in started:
            _stop(process)
