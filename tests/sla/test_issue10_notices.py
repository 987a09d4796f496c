"""Issue 10 #10: notices describe the state after the action that sent them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from core.models import OutboxMessage
from itsm import services
from sla.services import clocks_sweep

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/London"))


def test_breach_notice_names_the_tier_the_sweep_moved_it_to(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #10: the Incident Manager's breach e-mail says where the incident is after
    the same sweep escalated it (tier 3), not where it was (Service Desk, tier 1)."""
    org.incident_manager.email = "im@example.test"
    org.incident_manager.save()
    with time_machine.travel(MONDAY_10, tick=False) as t:
        inc = services.incident_create(
            actor=org.requester, service=org.service, title="Down", impact="high", urgency="high"
        )
        t.move_to(MONDAY_10 + timedelta(minutes=31))
        with django_capture_on_commit_callbacks(execute=True):
            clocks_sweep()
    inc.refresh_from_db()
    assert inc.tier == 3
    notice = OutboxMessage.objects.get(event="incident.sla_breached")
    assert f"now with {org.dev} (tier 3)" in notice.body
    assert f"escalated from {org.desk} (tier 1)" in notice.body
    assert "It is with" not in notice.body
