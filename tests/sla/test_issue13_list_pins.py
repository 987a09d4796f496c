"""Issue 13: the SLA policy and calendar lists cost a fixed number of queries, whatever the
number of rows they show: measured with one row of each kind, then with twelve, the count
is the same and the twelve are in the answer."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Service
from sla.models import BusinessCalendar, Holiday, SlaPolicy, WorkingPeriod
from tests.conftest import api_as


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


def _queries(client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, (url, res.content[:500])
    return len(ctx.captured_queries), res.content.decode()


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/v1/sla-policies/?page_size=100", '"name":"Policy '),
        ("/api/v1/calendars/?page_size=100", '"name":"Day '),
    ],
)
def test_sla_lists_cost_the_same_for_one_or_twelve_rows(org, url, word) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    _add(0)
    _queries(client, url)  # warm the process's caches
    one, _ = _queries(client, url)
    for i in range(1, 12):
        _add(i)
    twelve, body = _queries(client, url)
    assert body.count(word) >= 12, (url, body.count(word))  # the twelve are in the answer
    assert twelve == one, (url, one, twelve)
