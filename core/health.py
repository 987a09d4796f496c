"""Is Tandem healthy? The checks behind ``/readyz`` and ``manage.py health``.

Each check is a plain function returning a :class:`CheckResult`; :func:`run_checks` runs
them and turns a check that raises into a failed result, so a probe always answers:

- ``database``: the database answers ``SELECT 1``;
- ``broker``: Celery's broker takes a connection within ``HEALTH_BROKER_TIMEOUT_SECONDS``
  (Redis answers a PING); on the embedded default, kombu's filesystem transport, its queue
  folders exist and take a file, which is what sending a task needs;
- ``beat``: the last SLA sweep finished less than ``HEALTH_SLA_SWEEP_MAX_AGE_SECONDS`` ago.
  Beat sends ``sla.tasks.clocks_sweep`` every ``SLA_SWEEP_SECONDS`` and the task records a
  heartbeat when it finishes, so this turns red when beat stops, and also when no worker
  runs what beat sends;
- ``outbox``: no outbox message has been due and unsent for longer than
  ``HEALTH_OUTBOX_MAX_AGE_SECONDS`` (messages waiting for a retry's back-off are not due).

The answers are shown to anyone (no sign-in), so they carry no secret: no URL, and any
credentials an error message might hold are masked (:func:`redact`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.utils import timezone
from kombu import Connection

from core.models import Heartbeat, OutboxMessage

SLA_SWEEP = "sla_sweep"  # the heartbeat sla.tasks.clocks_sweep writes
FILESYSTEM_BROKERS = {"tandemfs", "filesystem"}  # core/broker.py's and kombu's own


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    latency_ms: float | None = None  # how long the thing checked took to answer
    age_seconds: float | None = None  # how old the thing checked is

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"status": "ok" if self.ok else "error", "detail": self.detail}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 1)
        if self.age_seconds is not None:
            out["age_seconds"] = round(self.age_seconds)
        return out


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def check_database() -> CheckResult:
    started = time.monotonic()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    ms = _ms_since(started)
    return CheckResult("database", True, f"SELECT 1 answered in {ms:.1f} ms", latency_ms=ms)


def check_broker() -> CheckResult:
    url: str = settings.CELERY_BROKER_URL
    options: dict[str, object] = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    scheme = url.partition("://")[0].lower()
    started = time.monotonic()
    if scheme in FILESYSTEM_BROKERS:
        _filesystem_queue_writable(options)
        ms = _ms_since(started)
        return CheckResult(
            "broker", True, f"the filesystem queue takes messages ({ms:.1f} ms)", latency_ms=ms
        )
    timeout = settings.HEALTH_BROKER_TIMEOUT_SECONDS
    # A short connect and socket timeout and no retry: a broker that is away or silent
    # answers "unreachable" within the timeout instead of holding the request.
    transport_options = {**options, "socket_timeout": timeout, "socket_connect_timeout": timeout}
    with Connection(url, connect_timeout=timeout, transport_options=transport_options) as conn:
        conn.ensure_connection(max_retries=0, timeout=timeout)
    ms = _ms_since(started)
    return CheckResult("broker", True, f"{scheme} answered in {ms:.1f} ms", latency_ms=ms)


def _filesystem_queue_writable(options: dict[str, object]) -> None:
    """Writes and removes a hidden file in each queue folder, as core/broker.py writes a
    message (a ``.part`` name the workers never read). A missing folder is made, as the
    Celery app does when it is configured (config/celery.py)."""
    keys = ("data_folder_in", "data_folder_out", "control_folder")
    folders = sorted({str(options[k]) for k in keys if options.get(k)})
    if not folders:
        raise RuntimeError("the filesystem broker has no queue folder configured")
    for folder in folders:
        probe = Path(folder) / f".health-{uuid.uuid4().hex}.part"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise RuntimeError(
                f"cannot write in the queue folder {folder}: {exc.strerror}"
            ) from exc


def check_beat() -> CheckResult:
    limit = settings.HEALTH_SLA_SWEEP_MAX_AGE_SECONDS
    at = Heartbeat.objects.filter(name=SLA_SWEEP).values_list("at", flat=True).first()
    if at is None:
        return CheckResult(
            "beat", False, "no SLA sweep has finished yet: are beat and a worker running?"
        )
    age = max((timezone.now() - at).total_seconds(), 0.0)
    if age > limit:
        detail = (
            f"the last SLA sweep finished {age:.0f} s ago, more than {limit:.0f} s: "
            "beat, or every worker, has stopped"
        )
        return CheckResult("beat", False, detail, age_seconds=age)
    return CheckResult(
        "beat", True, f"the last SLA sweep finished {age:.0f} s ago", age_seconds=age
    )


def check_outbox() -> CheckResult:
    limit = settings.HEALTH_OUTBOX_MAX_AGE_SECONDS
    now = timezone.now()
    oldest = (
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, available_at__lte=now)
        .order_by("available_at")  # the partial index outbox_pending_idx: one row read
        .values_list("available_at", flat=True)
        .first()
    )
    if oldest is None:
        return CheckResult("outbox", True, "no message is waiting to be sent", age_seconds=0)
    age = max((now - oldest).total_seconds(), 0.0)
    if age > limit:
        detail = (
            f"the oldest message due has waited {age:.0f} s, more than {limit:.0f} s: "
            "delivery is stuck"
        )
        return CheckResult("outbox", False, detail, age_seconds=age)
    return CheckResult(
        "outbox", True, f"the oldest message due has waited {age:.0f} s", age_seconds=age
    )


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "broker": check_broker,
    "beat": check_beat,
    "outbox": check_outbox,
}


def run_checks(names: Iterable[str] | None = None) -> list[CheckResult]:
    """Runs the named checks (all by default) in order; one that raises is a failed result
    naming its error."""
    results = []
    for name in names or CHECKS:
        started = time.monotonic()
        try:
            results.append(CHECKS[name]())
        except Exception as exc:  # the error is the answer: a probe never fails with a 500
            message = redact(f"{type(exc).__name__}: {exc}")
            results.append(CheckResult(name, False, message, latency_ms=_ms_since(started)))
    return results


def report(results: list[CheckResult]) -> dict[str, object]:
    """The JSON body of /readyz and of ``manage.py health --json``."""
    return {
        "status": "ok" if all(r.ok for r in results) else "error",
        "checks": {r.name: r.as_dict() for r in results},
    }


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def _secrets() -> Iterator[str]:
    yield str(settings.DATABASES["default"].get("PASSWORD") or "")
    for url in (settings.CELERY_BROKER_URL, getattr(settings, "REDIS_URL", "")):
        try:
            yield urlsplit(url).password or ""
        except ValueError:
            continue


def redact(text: str) -> str:
    """An error message fit to show anyone: credentials in URLs and the configured passwords
    masked, at most 500 characters."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    for secret in _secrets():
        if len(secret) >= 4:  # masking a one-letter password would mangle the message
            text = text.replace(secret, "***")
    return text[:500]


def heartbeat_record(name: str) -> None:
    """Records that the periodic job ``name`` has just finished (one upsert)."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, at=timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["at"],
    )
