"""Issue 13: the API writes a clock as a plain dict (``sla.api.serializers.clock_data``)
instead of running thirteen DRF fields per clock; it must be exactly what
``ClockSerializer`` wrote, for clocks in every state and in any time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from itsm import services
from itsm.models import Incident
from sla.api.serializers import ClockSerializer, clock_data
from sla.selectors import ticket_clocks

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/London"))


def _raise(org, title: str, **kw) -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(actor=org.requester, service=org.service, title=title, **kw)


def test_clock_data_is_what_the_serializer_wrote(org) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(MONDAY_10, tick=False) as frozen:
        fresh = _raise(org, "fresh", impact="high", urgency="high")
        held = services.incident_assign(
            incident=_raise(org, "held"), actor=org.agent, assignee=org.agent
        )
        held = services.incident_start(incident=held, actor=org.agent)
        held = services.incident_hold(incident=held, actor=org.agent, reason="awaiting_vendor")
        done = services.incident_assign(
            incident=_raise(org, "done"), actor=org.agent, assignee=org.agent
        )
        frozen.move_to(MONDAY_10 + timedelta(minutes=20))
        services.incident_resolve(
            incident=done, actor=org.agent, resolution_code="fixed", resolution_notes="ok"
        )
        seen: set[str] = set()
        serializer = ClockSerializer()
        # now, soon (warnings), much later (breached, overdue while paused)
        for minutes in (20, 200, 60 * 24 * 9):
            now = MONDAY_10 + timedelta(minutes=minutes)
            for zone in ("UTC", "Europe/Berlin", "America/New_York"):
                with timezone.override(ZoneInfo(zone)):
                    for incident in (fresh, held, done):
                        incident = Incident.objects.get(pk=incident.pk)
                        for view in ticket_clocks(incident, now):
                            assert clock_data(view) == serializer.to_representation(view)
                            seen.add(view.level)
                            if view.due_at is not None:
                                seen.add("due")
    # the states the comparison went through
    assert {"ok", "paused", "met", "breached", "due"} <= seen, seen
