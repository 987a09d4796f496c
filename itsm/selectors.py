"""Reads of incidents, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from core.exceptions import NotFound
from core.models import AuditEvent, Comment
from core.roles import is_staff_member
from core.selectors import TimelineEntry, comments_of, get_by_ref, history_of, timeline_of
from itsm import permissions
from itsm.models import Incident
from itsm.models.incident import TRANSITION_NAMES
from sla.selectors import clock_prefetch

User = AbstractBaseUser | AnonymousUser


def incident_list(user: User) -> QuerySet[Incident]:
    """Staff see every incident (so an agent can answer any caller); a requester only their own."""
    qs = Incident.objects.select_related(
        "service", "team", "assignee", "requester"
    ).prefetch_related(clock_prefetch())
    if is_staff_member(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(requester=user)


def incident_get(user: User, ref: str | int) -> Incident:
    """By id or by key (``INC-1042``); 404 when it does not exist or is not visible."""
    return get_by_ref(incident_list(user), Incident.KEY_PREFIX, ref, "incident")


def incident_transitions_for(user: User, incident: Incident) -> list[str]:
    """The transitions this user may fire now, in the graph's order."""
    available = {t.name for t in incident.get_available_status_transitions()}
    return [
        name
        for name in TRANSITION_NAMES
        if name in available and permissions.may_fire_now(user, incident, name)
    ]


def incident_history(incident: Incident) -> QuerySet[AuditEvent]:
    return history_of(incident)


def incident_comments(user: User, incident: Incident) -> QuerySet[Comment]:
    return comments_of(incident, internal=permissions.can_write_internal_notes(user))


def incident_timeline(user: User, incident: Incident) -> list[TimelineEntry]:
    """Requesters do not see internal notes."""
    return timeline_of(incident, internal=permissions.can_write_internal_notes(user))


def incident_counts(qs: QuerySet[Incident]) -> dict[str, dict[Any, int]]:
    """Counts per state and per priority for a queue, in one query each."""
    by_status = dict(qs.order_by().values_list("status").annotate(n=Count("id")))
    by_priority = dict(qs.order_by().values_list("priority").annotate(n=Count("id")))
    return {"status": by_status, "priority": by_priority}


def incident_queue(user: User, queue: str) -> QuerySet[Incident]:
    """The named queue: ``mine`` (assigned to me, open), ``team-<id>`` (a team's open work),
    ``unassigned`` (new incidents at the service desk), ``all``."""
    qs = incident_list(user)
    open_q = Q(status__in=["new", "assigned", "in_progress", "on_hold"])
    if queue == "mine":
        return qs.filter(open_q, assignee=user)
    if queue.startswith("team-"):
        try:
            team_id = int(queue.removeprefix("team-"))
        except ValueError:
            raise NotFound(f"No queue {queue}.") from None
        return qs.filter(open_q, team_id=team_id)
    if queue == "unassigned":
        return qs.filter(open_q, assignee__isnull=True)
    if queue == "all":
        return qs
    raise NotFound(f"No queue {queue}.")
