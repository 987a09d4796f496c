"""Time logging and the 3rd-line reservation: per developer and week, support time
reserved, support time used and project time, with warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Team, UserProfile
from itsm.models import Incident
from itsm.models.incident import OPEN_STATES
from itsm.services.common import record
from projects.models import TimeEntry


def time_log(
    *,
    actor: AbstractBaseUser,
    target: Any,
    hours: Decimal | float | str,
    on: date | None = None,
    note: str = "",
) -> TimeEntry:
    """Log one's own time on an incident, a problem or a work item (staff). Audited on
    the target. The entry keeps the team whose work it was (``work_team_id``)."""
    from projects.permissions import can_log_time

    if not can_log_time(actor, target):
        raise ActionForbidden(f"Only those working {target.key} log time on it.")
    try:
        hours = Decimal(str(hours))
    except ArithmeticError:
        raise ValidationFailed("Hours are a number.", field="hours") from None
    if not Decimal("0") < hours <= Decimal("24"):
        raise ValidationFailed("Between 0 and 24 hours.", field="hours")
    on = on or timezone.localdate()
    if on > timezone.localdate():
        raise ValidationFailed("Time is logged for today or earlier.", field="date")
    ct = ContentType.objects.get_for_model(target)
    with transaction.atomic():
        entry = TimeEntry.objects.create(
            user=actor,
            date=on,
            hours=hours,
            content_type=ct,
            object_id=target.pk,
            note=note[:200],
            is_support=ct.model in TimeEntry.SUPPORT_MODELS,
            team_id=work_team_id(target, actor),
        )
        record(
            target,
            actor,
            "time_logged",
            comment=f"{hours} h on {on:%d %b}" + (f": {note}" if note else ""),
        )
    return entry


def work_team_id(target: Any, person: Any) -> int | None:
    """The team whose work time on ``target`` is, as it stands when the time is logged:
    a work item's project team; an incident's or problem's team (the queue holding it);
    a problem no team holds yet: the person's team among those of its service, else their
    only team. None when nothing says (the capacity page shows it as "other")."""
    project = getattr(target, "project", None)
    if project is not None:
        return project.team_id
    if getattr(target, "team_id", None):
        return target.team_id
    mine = set(Team.objects.filter(members=person).values_list("id", flat=True))
    service = getattr(target, "service", None)
    for team_id in (service.development_team_id, service.support_team_id) if service else ():
        if team_id in mine:
            return team_id
    return next(iter(mine)) if len(mine) == 1 else None


def week_bounds(week: str | None) -> tuple[date, date, str]:
    """An ISO week like 2026-W48 (default: this week) → (monday, sunday, label)."""
    if week:
        try:
            year, w = week.upper().split("-W")
            monday = date.fromisocalendar(int(year), int(w), 1)
        except (ValueError, TypeError):
            raise ValidationFailed("A week as YYYY-Www, e.g. 2026-W48.", field="week") from None
    else:
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
    year, w, _ = monday.isocalendar()
    return monday, monday + timedelta(days=6), f"{year}-W{w:02d}"


@dataclass
class PersonWeek:
    """A member's week as one team sees it. The reservation is the person's, once: each
    of their ``teams`` holds an equal part of it (``reserved``). Hours count on the team
    whose work they were; the rest of the person's week is ``other_*``."""

    user: Any
    share: int
    reserved: float  # this team's part of the reservation
    support: float  # support hours for this team
    project: float  # project hours for this team
    warnings: list[str] = field(default_factory=list)
    teams: int = 1  # how many teams share the person's reservation
    reserved_total: float = 0.0
    other_support: float = 0.0  # for other teams, or not attributed
    other_project: float = 0.0

    @property
    def support_percent(self) -> int:
        return round(100 * self.support / settings.WORK_WEEK_HOURS)

    @property
    def support_total(self) -> float:
        return self.support + self.other_support


def _share_inputs(members: list[Any]) -> tuple[dict[int, int], dict[int, list[int]]]:
    """Each member's own reserved share (where set), and the default share of every team
    they are in: a reservation is split between those teams, so it is counted once however
    many teams a person is in. Two queries whatever the number of members."""
    own = dict(
        UserProfile.objects.filter(user__in=members, support_share__isnull=False).values_list(
            "user_id", "support_share"
        )
    )
    their_teams: dict[int, list[int]] = {}
    for user_id, share in Team.members.through.objects.filter(user__in=members).values_list(
        "user_id", "team__support_share"
    ):
        their_teams.setdefault(user_id, []).append(share)
    return own, their_teams


def support_shares(team: Team, members: list[Any]) -> dict[int, float]:
    """Each member's whole reserved 3rd-line share (%): their own share, else the average
    of their teams' shares (``team``'s when they are in none), the rule the capacity page
    counts ``reserved_total`` by."""
    own, their_teams = _share_inputs(members)
    out = {}
    for user in members:
        if user.pk in own:
            out[user.pk] = float(own[user.pk])
        else:
            shares = their_teams.get(user.pk) or [team.support_share]
            out[user.pk] = sum(shares) / len(shares)
    return out


def team_capacity(team: Team, week: str | None = None) -> dict[str, Any]:
    monday, sunday, label = week_bounds(week)
    members = list(team.members.filter(is_active=True).order_by("username"))
    shares, their_teams = _share_inputs(members)
    sums: dict[tuple[int, bool, bool], float] = {}
    for r in (
        TimeEntry.objects.filter(user__in=members, date__gte=monday, date__lte=sunday)
        .values("user_id", "is_support", "team_id")
        .annotate(h=Sum("hours"))
    ):
        key = (r["user_id"], r["is_support"], r["team_id"] == team.pk)
        sums[key] = sums.get(key, 0.0) + float(r["h"])
    waiting = Incident.objects.filter(team=team, status__in=[s.value for s in OPEN_STATES]).count()
    rows = []
    for user in members:
        team_shares = their_teams.get(user.pk) or [team.support_share]
        share = shares.get(user.pk, team.support_share)
        total = sum(
            settings.WORK_WEEK_HOURS * shares.get(user.pk, s) / 100 for s in team_shares
        ) / len(team_shares)
        row = PersonWeek(
            user,
            share,
            settings.WORK_WEEK_HOURS * share / 100 / len(team_shares),
            sums.get((user.pk, True, True), 0.0),
            sums.get((user.pk, False, True), 0.0),
            teams=len(team_shares),
            reserved_total=total,
            other_support=sums.get((user.pk, True, False), 0.0),
            other_project=sums.get((user.pk, False, False), 0.0),
        )
        everywhere = " across their teams" if row.teams > 1 else ""
        if row.support_total > row.reserved_total:
            row.warnings.append(
                f"Support exceeds the {share} % reservation by "
                f"{row.support_total - row.reserved_total:.1f} h{everywhere}: "
                "project work pays for it."
            )
        elif waiting and row.support < row.reserved / 2 and monday <= timezone.localdate():
            row.warnings.append(
                f"Under half the reservation used while {waiting} incident"
                f"{'s' if waiting != 1 else ''} wait in the team's queue."
            )
        rows.append(row)
    return {
        "team": team,
        "week": label,
        "monday": monday,
        "sunday": sunday,
        "rows": rows,
        "waiting": waiting,
        "week_hours": settings.WORK_WEEK_HOURS,
        "previous": (monday - timedelta(days=7)).strftime("%G-W%V"),
        "next": (monday + timedelta(days=7)).strftime("%G-W%V"),
    }
