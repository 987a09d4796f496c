"""A sweeper process killed with SIGKILL in the middle of a batch, on PostgreSQL: what it
committed stays, the batch it was writing is rolled back by the server, and the next
sweep fires each threshold that was left, once (issue 13: 0 lost, 0 twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from itsm import services
from sla.models import SlaClock, SlaClockEvent
from sla.services import clocks_sweep

pytestmark = [pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]

# The child sweeps in batches of 5; in its third batch, once the audit rows and clock
# events are written and before the clocks are, it says so and waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    import django
    django.setup()
    import sla.services as s

    real, batches = s._clocks_update, []

    def update(clocks, names):
        batches.append(1)
        if len(batches) == 3:
            print("mid-batch", flush=True)
            time.sleep(600)
        return real(clocks, names)

    s._clocks_update = update
    s.clocks_sweep(now=datetime.fromisoformat(sys.argv[1]), batch_size=5)
    """
)


def _wait_for_the_server_to_roll_back() -> None:
    """The server ends the dead child's session (and releases its row locks) when it sees
    the socket close, a moment after the kill."""
    with connection.cursor() as cur:
        for _ in range(200):
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            )
            if cur.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the killed sweeper's transaction is still open")


def test_a_sweeper_killed_9_mid_batch_loses_nothing_and_fires_nothing_twice(
    org, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incidents = [
            services.incident_create(
                actor=org.requester,
                service=org.service,
                title=f"n{i}",
                impact="high",
                urgency="high",
            )
            for i in range(24)
        ]
    at = start + timedelta(minutes=16)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, at.isoformat()],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-batch"
        # the child's open batch holds its written rows, unseen by anyone else
        assert AuditEvent.objects.filter(action="sla_warning").count() == 10
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    _wait_for_the_server_to_roll_back()
    assert AuditEvent.objects.filter(action="sla_warning").count() == 10  # 2 batches stayed
    assert clocks_sweep(now=at) == 14  # the killed batch's 5 and the 9 it never reached
    assert clocks_sweep(now=at) == 0
    warned = list(
        AuditEvent.objects.filter(action="sla_warning").values_list("object_id", flat=True)
    )
    assert sorted(warned) == sorted(i.pk for i in incidents)  # each once: 0 lost, 0 twice
    assert SlaClockEvent.objects.filter(kind="warning").count() == 24
    assert not SlaClock.objects.filter(target="response", fired=0).exists()
