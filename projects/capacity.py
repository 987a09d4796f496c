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
    the target."""
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
        )
        record(
            target,
            actor,
            "time_logged",
            comment=f"{hours} h on {on:%d %b}" + (f": {note}" if note else ""),
        )
    return entry


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
    user: Any
    share: int
    reserved: float
    support: float
    project: float
    warnings: list[str] = field(default_factory=list)

    @property
    def support_percent(self) -> int:
        return round(100 * self.support / settings.WORK_WEEK_HOURS)


def team_capacity(team: Team, week: str | None = None) -> dict[str, Any]:
    monday, sunday, label = week_bounds(week)
    members = list(team.members.filter(is_active=True).order_by("username"))
    shares = dict(
        UserProfile.objects.filter(user__in=members, support_share__isnull=False).values_list(
            "user_id", "support_share"
        )
    )
    sums = {
        (r["user_id"], r["is_support"]): float(r["h"])
        for r in TimeEntry.objects.filter(user__in=members, date__gte=monday, date__lte=sunday)
        .values("user_id", "is_support")
        .annotate(h=Sum("hours"))
    }
    waiting = Incident.objects.filter(team=team, status__in=[s.value for s in OPEN_STATES]).count()
    rows = []
    for user in members:
        share = shares.get(user.pk, team.support_share)
        reserved = settings.WORK_WEEK_HOURS * share / 100
        row = PersonWeek(
            user, share, reserved, sums.get((user.pk, True), 0.0), sums.get((user.pk, False), 0.0)
        )
        if row.support > reserved:
            row.warnings.append(
                f"Support exceeds the {share} % reservation by "
                f"{row.support - reserved:.1f} h: project work pays for it."
            )
        elif waiting and row.support < reserved / 2 and monday <= timezone.localdate():
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
