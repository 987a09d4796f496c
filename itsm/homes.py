"""The Incident Manager's and the Problem Manager's homes (``core.homes`` decides who
lands where): what needs them across every team, a bounded number of rows each, read
through the same selectors as the desk and the problem pages."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.views import HomePage
from itsm import selectors
from itsm.models import Incident
from itsm.models.problem import PROBLEM_OPEN_STATES
from sla.selectors import ticket_clocks

ROWS = 25
CANDIDATES = 10


def incidents_breached(user: Any) -> QuerySet[Incident]:
    """Open incidents with a breached SLA clock (response or resolution), most urgent first:
    what the desk's ``?sla=breached`` lists."""
    qs = selectors.incident_queue(user, "all").filter(status__in=selectors.OPEN)
    return qs.filter(Incident.SLA_KEPT.breached_q(timezone.now())).order_by(
        "priority", F("sla_due_at").asc(nulls_last=True), "id"
    )


def incidents_at_risk(user: Any) -> QuerySet[Incident]:
    """Open incidents not yet breached whose ticking clock passed a warning threshold
    (the SLA engine's own warning: what e-mailed "SLA at 75 %"), next due first: the
    desk's ``?sla=at_risk`` without those already breached."""
    now = timezone.now()
    qs = selectors.incident_queue(user, "all").filter(status__in=selectors.OPEN)
    kept = Incident.SLA_KEPT
    qs = qs.filter(kept.at_risk_q(now)).exclude(kept.breached_q(now))
    return qs.order_by(F("sla_due_at").asc(nulls_last=True), "priority", "id")


def major_incidents_open(user: Any) -> QuerySet[Incident]:
    qs = selectors.incident_queue(user, "all").filter(status__in=selectors.OPEN)
    return qs.filter(major_incident=True).order_by("priority", "created_at", "id")


def first_rows(qs: QuerySet[Incident], limit: int = ROWS) -> tuple[list[Incident], bool]:
    """The first ``limit`` rows with their clocks for the SLA column, and whether there
    are more (one row more is read instead of a COUNT)."""
    rows = list(qs[: limit + 1])
    now = timezone.now()
    for incident in rows[:limit]:
        incident.clock_views = ticket_clocks(incident, now)  # type: ignore[attr-defined]
    return rows[:limit], len(rows) > limit


class IncidentManagerHome(HomePage):
    """Breaches, at-risk tickets and open major incidents across teams."""

    home_key = "incidents"
    template_name = "home/incident_manager.html"

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        user = request.user
        breached, more_breached = first_rows(incidents_breached(user))
        at_risk, more_at_risk = first_rows(incidents_at_risk(user))
        major, more_major = first_rows(major_incidents_open(user))
        desk = f"{reverse('itsm:desk')}?queue=all&ordering=sla"
        return {
            "breached": breached,
            "more_breached": f"{desk}&sla=breached" if more_breached else "",
            "at_risk": at_risk,
            "more_at_risk": f"{desk}&sla=at_risk" if more_at_risk else "",
            "major": major,
            "more_major": desk if more_major else "",
        }


class ProblemManagerHome(HomePage):
    """Open problems (most open incidents first) and recurring-incident candidates."""

    home_key = "problems"
    template_name = "home/problem_manager.html"

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        problems = list(
            selectors.problem_list(request.user)
            .filter(status__in=[s.value for s in PROBLEM_OPEN_STATES])
            .order_by("-open_incidents", "priority", "-id")[: ROWS + 1]
        )
        known_errors = sum(1 for p in problems if p.status == "known_error")
        return {
            "problems": problems[:ROWS],
            "more_problems": len(problems) > ROWS,
            "known_errors": known_errors,
            "candidates": selectors.recurring_incidents()[:CANDIDATES],
        }
