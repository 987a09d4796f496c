"""The SLA policies Tandem ships with. Used by the data migration (with historical
models) and by tests and the demo (with the real ones)."""

from __future__ import annotations

from datetime import time
from typing import Any

BUSINESS_DAY = 8 * 60  # minutes in one day of the default 09:00–17:00 calendar
# priority: (response minutes, resolution minutes, calendar, breach escalation)
INCIDENT_POLICIES = {
    1: (30, 4 * 60, "24×7", "development"),
    2: (60, 8 * 60, "Business hours", "next_tier"),
    3: (4 * 60, 3 * BUSINESS_DAY, "Business hours", "none"),
    4: (BUSINESS_DAY, 5 * BUSINESS_DAY, "Business hours", "none"),
    5: (2 * BUSINESS_DAY, 10 * BUSINESS_DAY, "Business hours", "none"),
}


# Service requests: picked up within a business day, fulfilled within five; time spent
# waiting for an approver does not count against the fulfilment team.
REQUEST_POLICY = {
    "name": "Service request",
    "ticket_type": "request",
    "response_minutes": BUSINESS_DAY,
    "resolution_minutes": 5 * BUSINESS_DAY,
    "pause_states": ["awaiting_approval"],
}


def install_default_policies(calendar_model: Any, period_model: Any, policy_model: Any) -> None:
    """Create the 24×7 and business-hours calendars and the P1–P5 incident policies;
    leaves existing ones as they are."""
    always, _ = calendar_model.objects.get_or_create(
        name="24×7", defaults={"timezone": "Europe/London", "always_open": True}
    )
    business, created = calendar_model.objects.get_or_create(
        name="Business hours", defaults={"timezone": "Europe/London", "holiday_country": "GB"}
    )
    if created:
        for weekday in range(5):
            period_model.objects.create(
                calendar=business, weekday=weekday, start=time(9), end=time(17)
            )
    calendars = {"24×7": always, "Business hours": business}
    for priority, (response, resolution, calendar, escalation) in INCIDENT_POLICIES.items():
        policy_model.objects.get_or_create(
            name=f"Incident P{priority}",
            defaults={
                "ticket_type": "incident",
                "priority": priority,
                "calendar": calendars[calendar],
                "response_minutes": response,
                "resolution_minutes": resolution,
                "pause_states": ["on_hold"],
                "warning_thresholds": [50, 75],
                "breach_escalation": escalation,
                "notify_incident_manager": priority <= 2,
            },
        )
    policy_model.objects.get_or_create(
        name=REQUEST_POLICY["name"],
        defaults={
            **REQUEST_POLICY,
            "priority": None,
            "calendar": business,
            "warning_thresholds": [50, 75],
            "breach_escalation": "none",
            "notify_incident_manager": False,
        },
    )
