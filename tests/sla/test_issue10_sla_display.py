"""Issue 10 #11 and #12: SLA figures as people read them — business targets in business
terms, and a clock on hold that counts its pause and says when it would fall due."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils.dateparse import parse_datetime

from itsm import services
from sla import engine
from tests.conftest import api_as, drive

LONDON = ZoneInfo("Europe/London")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(MONDAY_10, tick=False) as t:
        yield t


def _page(user, url: str) -> str:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c.get(url).content.decode()


def test_business_durations_read_in_working_days() -> None:
    """Issue 10 #11: 24 business hours of an 8-hour calendar are 3 working days."""
    day = 8 * 3600
    assert engine.fmt_business(24 * 3600, day) == "3 working days"
    assert engine.fmt_business(30 * 3600, day) == "3 working days 6h"
    assert engine.fmt_business(4 * 3600, day) == "4h"
    assert engine.fmt_business(day, day) == "1 working day"
    assert engine.fmt_business(26 * 3600, None) == "26h"  # 24×7: hours are hours


def test_p3_targets_are_shown_in_business_terms(org, frozen) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #11: "0 % of 1d" for a 3-working-day target reads "0% of 3 working days"
    on the page, in the queue badge and in the API."""
    inc = services.incident_create(
        actor=org.requester, service=org.service, title="Slow", impact="medium", urgency="medium"
    )
    assert inc.priority == 3
    html = _page(org.agent, inc.get_absolute_url())
    assert "0% of 3 working days" in html
    assert "0% of 4h" in html
    assert "of 1d" not in html
    body = api_as(org.agent).get(f"/api/v1/incidents/{inc.key}/").json()
    by_target = {c["target"]: c for c in body["sla"]}
    assert by_target["resolution"]["target_label"] == "3 working days"
    assert by_target["resolution"]["remaining_label"] == "3 working days left"
    timeline = api_as(org.agent).get(f"/api/v1/incidents/{inc.key}/sla/").json()
    assert {c["target"]: c["target_label"] for c in timeline}["resolution"] == "3 working days"


def test_paused_clock_counts_its_pause_and_projects_its_due(org, frozen) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #12: on hold, the API said ``paused_seconds: 0`` and ``due_at: null``."""
    inc = services.incident_create(
        actor=org.requester, service=org.service, title="Down", impact="high", urgency="high"
    )
    inc = drive(inc, org, "in_progress")
    frozen.move_to(MONDAY_10 + timedelta(minutes=60))
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_vendor")
    now = MONDAY_10 + timedelta(minutes=150)
    frozen.move_to(now)
    expected_due = now + timedelta(hours=3)  # P1 24×7: 4 h target, 1 h spent

    api = api_as(org.agent)
    [res] = [
        c
        for c in api.get(f"/api/v1/incidents/{inc.key}/").json()["sla"]
        if c["target"] == "resolution"
    ]
    assert res["state"] == "paused"
    assert res["paused_seconds"] == 90 * 60
    assert parse_datetime(res["due_at"]) == expected_due
    [res] = [
        c
        for c in api.get(f"/api/v1/incidents/{inc.key}/sla/").json()
        if c["target"] == "resolution"
    ]
    assert res["paused_seconds"] == 90 * 60
    assert parse_datetime(res["due_at"]) == expected_due

    html = _page(org.agent, inc.get_absolute_url())
    due = expected_due.astimezone(LONDON)
    assert f"due {due:%d %b %H:%M} if resumed now" in html
    assert "on hold 1h30m" in html
