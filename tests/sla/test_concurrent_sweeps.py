"""Several sweepers at once on PostgreSQL: SKIP LOCKED shares the due clocks out and every
threshold fires exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from itsm import services
from sla.services import clocks_sweep

pytestmark = [pytest.mark.postgres]


def test_two_sweeps_at_once_fire_each_warning_once(org, transactional_db) -> None:  # type: ignore[no-untyped-def]
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
            for i in range(40)
        ]
    handled: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def sweeper() -> None:
        try:
            barrier.wait()
            handled.append(clocks_sweep(batch_size=5))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        threads = [threading.Thread(target=sweeper) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sum(handled) == 40  # every due clock handled by exactly one sweeper
        assert clocks_sweep() == 0
    warnings = AuditEvent.objects.filter(action="sla_warning")
    assert warnings.count() == 40
    assert sorted(warnings.values_list("object_id", flat=True)) == sorted(i.pk for i in incidents)
