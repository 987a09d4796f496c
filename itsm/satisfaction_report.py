"""Reading satisfaction answers: who may read which, and the report per team, service and
agent over a period. The page and the API both ask here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.exceptions import ActionForbidden, ValidationFailed
from core.params import parse_day
from core.roles import Role, has_role, is_administrator, is_staff_member, service_roles_held
from itsm.models import SatisfactionResponse

# The report's groupings: the snapshot column and the columns that name a row.
GROUPS = {
    "team": ("team_id", ("team__name",)),
    "service": ("service_id", ("service__name",)),
    "agent": ("agent_id", ("agent__first_name", "agent__last_name", "agent__username")),
}
LATEST_COMMENTS = 20


def _teams_led(user: Any) -> list[int]:
    return list(user.teams_led.values_list("id", flat=True))


def satisfaction_scope(user: Any) -> Q | None:
    """Which answers ``user`` may read, or None for none. Administrators and Incident
    Managers read every answer; an Incident Manager of some services those services';
    a team lead their teams'; any other staff member the answers about their own work.
    Requesters read none (their own answer is on their ticket)."""
    if not is_staff_member(user):
        return None
    if is_administrator(user) or has_role(user, Role.INCIDENT_MANAGER):
        return Q()
    scope = Q(agent_id=user.pk)
    services = [s for role, s in service_roles_held(user) if role == Role.INCIDENT_MANAGER.value]
    if services:
        scope |= Q(service_id__in=services)
    teams = _teams_led(user)
    if teams:
        scope |= Q(team_id__in=teams)
    return scope


def can_view_satisfaction_report(user: Any) -> bool:
    """The report is for those who answer for others' work: Administrators, Incident
    Managers (global or of a service) and team leads."""
    if not is_staff_member(user):
        return False
    if is_administrator(user) or has_role(user, Role.INCIDENT_MANAGER):
        return True
    if any(role == Role.INCIDENT_MANAGER.value for role, _ in service_roles_held(user)):
        return True
    return bool(_teams_led(user))


def satisfaction_answers(user: Any) -> QuerySet[SatisfactionResponse]:
    """The answered questions ``user`` may read, newest first, with what a list shows."""
    scope = satisfaction_scope(user)
    if scope is None:
        raise ActionForbidden("Satisfaction answers are for support staff.")
    return (
        SatisfactionResponse.objects.filter(scope, answered_at__isnull=False)
        .select_related("incident", "request", "team", "service", "agent", "requester")
        .order_by("-answered_at", "-id")
    )


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime  # exclusive

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(days=1)).date()


def parse_period(params: Any) -> Period:
    """``since`` / ``until`` as dates (``until`` inclusive); the last 30 days by default."""

    def day(name: str) -> Any:
        return parse_day(params.get(name), name)

    today = timezone.localdate()
    until_day = day("until") or today
    since_day = day("since") or until_day - timedelta(days=29)
    if since_day > until_day:
        raise ValidationFailed("'since' must not be after 'until'.", field="since")
    tz = timezone.get_current_timezone()
    return Period(
        since=datetime.combine(since_day, time(), tzinfo=tz),
        until=datetime.combine(until_day + timedelta(days=1), time(), tzinfo=tz),
    )


@dataclass(frozen=True)
class ReportRow:
    key: int | None
    name: str
    responses: int
    satisfied: int

    @property
    def percent_satisfied(self) -> float | None:
        return round(100 * self.satisfied / self.responses, 1) if self.responses else None


def satisfaction_report(
    answers: QuerySet[SatisfactionResponse], *, group: str, period: Period
) -> list[ReportRow]:
    """Answers given in the period, per team, service or agent (as they were when the
    ticket was resolved): one GROUP BY over the period's rows, read off the
    (group, answered_at) index."""
    if group not in GROUPS:
        raise ValidationFailed(f"group is one of: {', '.join(GROUPS)}.", field="group")
    key, names = GROUPS[group]
    rows = (
        answers.filter(answered_at__gte=period.since, answered_at__lt=period.until)
        .order_by()
        .values(key, *names)
        .annotate(n=Count("id"), yes=Count("id", filter=Q(satisfied=True)))
        .order_by(*names)
    )
    return [ReportRow(r[key], _name(r, names), r["n"], r["yes"]) for r in rows]


def _name(row: dict[str, Any], names: tuple[str, ...]) -> str:
    """A team or service by its name; a person by the name they go by (their username
    when they have none); "—" for answers about nobody (no agent at resolution)."""
    if row[names[0]] is None:
        return "—"
    if len(names) == 1:
        return str(row[names[0]])
    full = f"{row[names[0]]} {row[names[1]]}".strip()
    return full or str(row[names[2]])


def latest_comments(
    answers: QuerySet[SatisfactionResponse], *, period: Period, limit: int = LATEST_COMMENTS
) -> list[SatisfactionResponse]:
    return list(
        answers.filter(answered_at__gte=period.since, answered_at__lt=period.until)
        .exclude(comment="")
        .select_related("request__item")[:limit]
    )
