"""My work: a developer's day on one page. Their 3rd-line incidents, most urgent SLA
first, beside their work items in their projects' active iterations, and this week's
support and project hours against the support share reserved for them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.extensions import team_queue_q
from core.models import Team, Tier
from itsm import selectors as itsm_selectors
from itsm.permissions import user_team_ids
from itsm.selectors import OPEN
from itsm.views.problems import ProblemBase as StaffPage
from projects import selectors
from projects.capacity import support_shares
from projects.models import WORK_OPEN_STATES, TimeEntry, W
from sla.selectors import ticket_clocks

SHOWN = 50  # per list; the page's cost does not grow with a team's queue


def my_incidents(user: Any) -> list[tuple[Any, list[Any]]]:
    """Open incidents assigned to ``user`` or waiting in the queue of one of their tier-3
    (development) teams, with what is routed to those queues as well (a release's
    hypercare incidents, ``core.extensions.team_queue_q``: the same queue as the desk's
    ``team-<id>``), the earliest SLA due first (those with no ticking clock last), each
    with its clocks."""
    dev_teams = list(
        Team.objects.filter(pk__in=user_team_ids(user), tier=Tier.DEVELOPMENT).values_list(
            "pk", flat=True
        )
    )
    mine = Q(assignee=user) | Q(team__in=dev_teams)
    for team_id in dev_teams:
        mine |= team_queue_q("incident", team_id)
    qs = (
        itsm_selectors.incident_list(user)
        .filter(mine, status__in=OPEN)
        .order_by(F("sla_due_at").asc(nulls_last=True), "priority", "created_at", "id")
    )
    now = timezone.now()
    return [(i, ticket_clocks(i, now)) for i in qs[:SHOWN]]


def my_iteration_items(user: Any) -> list[Any]:
    """The user's work items in the active iterations of their projects, not yet done
    (fixed and released ones have left their hands), in backlog order."""
    return list(
        selectors.backlog_order(
            selectors.work_items(user).filter(
                assignee=user,
                iteration__status="active",
                status__in=[*WORK_OPEN_STATES],
            )
        )[:SHOWN]
    )


def my_week(user: Any) -> dict[str, Any]:
    """This week's logged support and project hours against the reserved share (the rule
    of ``projects.capacity``: the person's own share, else their teams')."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    sums = dict(
        TimeEntry.objects.filter(user=user, date__gte=monday, date__lte=monday + timedelta(6))
        .order_by()
        .values_list("is_support")
        .annotate(h=Sum("hours"))
    )
    teams = list(Team.objects.filter(pk__in=user_team_ids(user)).order_by("pk")[:1])
    share = support_shares(teams[0], [user])[user.pk] if teams else 0.0
    reserved = settings.WORK_WEEK_HOURS * share / 100
    support = float(sums.get(True) or 0)
    project = float(sums.get(False) or 0)
    logged = support + project
    return {
        "monday": monday,
        "share": share,
        "reserved": round(reserved, 1),
        "support": round(support, 1),
        "project": round(project, 1),
        "support_percent": round(100 * support / logged) if logged else 0,
        "over": support > reserved,
        "week_hours": settings.WORK_WEEK_HOURS,
    }


class MyWorkView(StaffPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        return render(
            request,
            "projects/my_work.html",
            {
                "incidents": my_incidents(user),
                "items": my_iteration_items(user),
                "week": my_week(user),
                "shown": SHOWN,
                "fixed": W.FIXED,
            },
        )
