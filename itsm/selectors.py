"""Reads of incidents, scoped to what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet

from core.exceptions import NotFound
from core.models import AuditEvent, Comment
from core.roles import is_staff_member
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
    ref = str(ref).strip()
    prefix = f"{Incident.KEY_PREFIX}-"
    try:
        if ref.upper().startswith(prefix):
            lookup: dict[str, Any] = {"number": int(ref[len(prefix) :])}
        else:
            lookup = {"pk": int(ref)}
    except ValueError:
        raise NotFound(f"No incident {ref}.") from None
    incident = incident_list(user).filter(**lookup).first()
    if incident is None:
        raise NotFound(f"No incident {ref}.")
    return incident


def incident_transitions_for(user: User, incident: Incident) -> list[str]:
    """The transitions this user may fire now, in the graph's order."""
    available = {t.name for t in incident.get_available_status_transitions()}
    return [
        name
        for name in TRANSITION_NAMES
        if name in available and permissions.may_fire_now(user, incident, name)
    ]


def incident_history(incident: Incident) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    ).select_related("actor")


def incident_comments(user: User, incident: Incident) -> QuerySet[Comment]:
    qs = Comment.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    ).select_related("author")
    if not permissions.can_write_internal_notes(user):
        qs = qs.filter(public=True)
    return qs


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "audit" or "comment"
    item: AuditEvent | Comment


def incident_timeline(user: User, incident: Incident) -> list[TimelineEntry]:
    """Audit trail and comments in one list, oldest first. Requesters do not see
    internal notes."""
    entries = [TimelineEntry(e.created_at, "audit", e) for e in incident_history(incident)]
    entries += [
        TimelineEntry(c.created_at, "comment", c) for c in incident_comments(user, incident)
    ]
    return sorted(entries, key=lambda e: (e.at, 0 if e.kind == "audit" else 1))


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
