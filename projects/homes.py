"""The homes of 2nd line, the Change, Release and Project Managers (``core.homes``
decides who lands where): the records of their work, a bounded number of rows each, read
through the same selectors as the release, change and desk pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.models import Team
from core.views import HomePage
from itsm import selectors as itsm_selectors
from itsm.homes import ROWS, first_rows
from itsm.models import ChangeStatus
from itsm.permissions import user_team_ids
from projects import selectors
from projects.models import GateEvaluation, ReleaseStatus

RS = ReleaseStatus
ACTIVE_RELEASES = [RS.PLANNING, RS.DEVELOPMENT, RS.TESTING, RS.AWAITING_GO_LIVE]
TEAM_ROWS = 10
MAX_TEAMS = 6  # a person in more teams than this sees the first ones; the desk has all
CAPACITY_TEAMS = 3


def uat_sign_offs_due(user: Any) -> Any:
    """Releases in UAT not signed off yet (what ``can_sign_off_uat`` lets 2nd line do),
    for the services the user's teams support; everyone's when they are in no team."""
    qs = selectors.release_list(user).filter(status=RS.TESTING, uat_signed_off_at__isnull=True)
    teams = user_team_ids(user)
    if teams:
        qs = qs.filter(project__services__support_team_id__in=teams).distinct()
    return qs.select_related("project").order_by("planned_date", "id")


def with_last_gate(qs: Any) -> Any:
    """Annotate the latest gate answer (``last_gate``: True open, False closed, None never
    asked) and when it was given, in the same query."""
    last = GateEvaluation.objects.filter(release=OuterRef("pk")).order_by("-evaluated_at", "-id")
    return qs.annotate(
        last_gate=Subquery(last.values("allowed")[:1]),
        last_gate_at=Subquery(last.values("evaluated_at")[:1]),
    )


class SecondLineHome(HomePage):
    """Their teams' queues (most urgent SLA first) and the UAT sign-offs due."""

    home_key = "support"
    template_name = "home/second_line.html"

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        user = request.user
        teams = list(Team.objects.filter(pk__in=user_team_ids(user)).order_by("tier", "name"))
        queues = []
        for team in teams[:MAX_TEAMS]:
            qs = itsm_selectors.incident_queue(user, f"team-{team.pk}")
            # the queue's own "SLA urgency" order, off its index (Incident.sla_due_at)
            rows, more = first_rows(qs.order_by("sla_due_at", "id"), TEAM_ROWS)
            more_url = f"{reverse('itsm:desk')}?queue=team-{team.pk}" if more else ""
            queues.append({"team": team, "rows": rows, "more": more_url})
        uat = list(uat_sign_offs_due(user)[: ROWS + 1])
        return {"queues": queues, "uat": uat[:ROWS], "more_uat": len(uat) > ROWS}


class ChangeManagerHome(HomePage):
    """What awaits the CAB, this week's changes and the releases awaiting go-live."""

    home_key = "changes"
    template_name = "home/change_manager.html"

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        user = request.user
        changes = itsm_selectors.change_list(user)
        waiting = list(
            changes.filter(status=ChangeStatus.AWAITING_APPROVAL).order_by("planned_start", "id")[
                : ROWS + 1
            ]
        )
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        start = timezone.make_aware(timezone.datetime.combine(monday, timezone.datetime.min.time()))
        end = start + timedelta(days=7)
        week = list(
            changes.filter(planned_start__lt=end, planned_end__gt=start)
            .exclude(status__in=["cancelled", "rejected", "draft"])
            .order_by("planned_start", "id")[: ROWS + 1]
        )
        releases = list(
            with_last_gate(selectors.release_list(user).filter(status=RS.AWAITING_GO_LIVE))
            .select_related("project")
            .order_by("planned_date", "id")[: ROWS + 1]
        )
        return {
            "waiting": waiting[:ROWS],
            "more_waiting": len(waiting) > ROWS,
            "week": week[:ROWS],
            "more_week": len(week) > ROWS,
            "week_start": monday,
            "week_end": monday + timedelta(days=6),
            "releases": releases[:ROWS],
            "more_releases": len(releases) > ROWS,
        }


class ReleaseManagerHome(HomePage):
    """Releases on their way, by state, each with its last gate answer."""

    home_key = "releases"
    template_name = "home/release_manager.html"
    PER_STATE = 15

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        qs = with_last_gate(
            selectors.release_list(request.user).filter(status__in=ACTIVE_RELEASES)
        ).select_related("project")
        columns = []
        for state in reversed(ACTIVE_RELEASES):  # nearest to live first
            ordered = qs.filter(status=state).order_by("planned_date", "id")
            rows = list(ordered[: self.PER_STATE + 1])
            columns.append(
                {
                    "state": state,
                    "label": state.label,
                    "rows": rows[: self.PER_STATE],
                    "more": len(rows) > self.PER_STATE,
                }
            )
        return {"columns": columns}


class ProjectManagerHome(HomePage):
    """Their projects' releases on the way, what slipped, and their teams' capacity."""

    home_key = "projects"
    template_name = "home/project_manager.html"

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        from projects.capacity import team_capacity

        user = request.user
        projects = list(
            selectors.project_list(user)
            .filter(project_manager=user, archived_at__isnull=True)
            .order_by("code")
        )
        mine = selectors.release_list(user).filter(project__in=projects)
        releases = list(
            with_last_gate(mine.filter(status__in=ACTIVE_RELEASES))
            .select_related("project")
            .order_by("planned_date", "id")[: ROWS + 1]
        )
        slipped = [r for r in releases[:ROWS] if r.original_planned_date]
        decisions = list(
            selectors.emergency_decisions(user)
            .filter(project_manager=user, status="proposed")
            .order_by("-id")[:ROWS]
        )
        teams, seen = [], set()
        for project in projects:
            if project.team_id not in seen and len(teams) < CAPACITY_TEAMS:
                seen.add(project.team_id)
                teams.append(team_capacity(project.team))
        return {
            "projects": projects,
            "releases": releases[:ROWS],
            "more_releases": len(releases) > ROWS,
            "slipped": slipped,
            "decisions": decisions,
            "capacity": teams,
        }
