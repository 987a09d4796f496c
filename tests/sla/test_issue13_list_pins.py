"""Issue 13: the SLA policy and calendar lists cost a fixed number of queries, whatever the
number of rows they show: measured with one row of each kind, then with twelve, the count
is the same and the twelve are in the answer."""

from __future__ import annotations

from datetime import date, time

import pytest

from core.models import Service
from sla.models import BusinessCalendar, Holiday, SlaPolicy, WorkingPeriod
from tests.conftest import api_as
from tests.pins import assert_pinned, count


def _add(i: int) -> None:
    """One more calendar (working days and holidays) and a policy of its own service on it."""
    calendar = BusinessCalendar.objects.create(name=f"Calendar {i}")
    for weekday in range(5):
        WorkingPeriod.objects.create(
            calendar=calendar, weekday=weekday, start=time(9), end=time(17)
        )
    Holiday.objects.create(calendar=calendar, date=date(2027, 1, 1 + i), name=f"Day {i}")
    service = Service.objects.create(name=f"Service {i}")
    SlaPolicy.objects.create(
        name=f"Policy {i}",
        ticket_type="incident",
        priority=2,
        service=service,
        calendar=calendar,
        response_minutes=30,
        resolution_minutes=240,
    )


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/v1/sla-policies/?page_size=100", '"name":"Policy '),
        ("/api/v1/calendars/?page_size=100", '"name":"Day '),
    ],
)
def test_sla_lists_cost_the_same_for_one_or_twelve_rows(org, url, word) -> None:  # type: ignore[no-untyped-def]
    assert_pinned(api_as(org.agent), url, _add, count(word))
