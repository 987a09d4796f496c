"""Reads of incidents and problems, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Prefetch, Q, QuerySet

from core.exceptions import NotFound, ValidationFailed
from core.extensions import prefetches_for, team_queue_q
from core.ids import parse_id
from core.models import AuditEvent, Comment, Watch
from core.querysets import SparsePrefetchQuerySet
from core.roles import is_administrator, is_staff_member
from core.selectors import TimelineEntry, get_by_ref
from core.visibility import parts_for
from itsm import permissions
from itsm.models import (
    CHANGE_TRANSITIONS,
    PROBLEM_TRANSITIONS,
    REQUEST_TRANSITIONS,
    CatalogItem,
    Change,
    Incident,
    Problem,
    SavedView,
    ServiceRequest,
)
from itsm.models.incident import OPEN_STATES, TRANSITION_NAMES
from itsm.recurring import RecurringGroup, recurring_incidents  # noqa: F401  (re-exported)
from sla.selectors import clock_prefetch

User = AbstractBaseUser | AnonymousUser
OPEN = [s.value for s in OPEN_STATES]


def incident_list(user: User) -> QuerySet[Incident]:
    """Staff see every incident (so an agent can answer any caller); a requester their own
    and those their own were merged into (``permissions.follows_merged``)."""
    # Joined: what every row has. Fetched apart: what few rows have (a query only when
    # one does). Eight tables in one join cost PostgreSQL ~100 ms to plan (issue 13).
    # Fetched apart only for the rows that have one (most have none): the problem, the
    # causing change, the master (the requester's status line names it).
    qs = (
        SparsePrefetchQuerySet(Incident)
        .select_related("service", "team", "assignee", "requester")
        .prefetch_sparse("problem", "caused_by_change", "duplicate_of")
        .prefetch_related(clock_prefetch(), *prefetches_for("incident"))
    )
    if is_staff_member(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    # their own, those they were added to as a participant (core.watchers), and the
    # masters their incidents were merged into: they follow them there
    participant_of = Watch.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), user=user
    ).values("object_id")
    merged_into = Incident.objects.filter(requester=user, duplicate_of__isnull=False)
    return qs.filter(
        Q(requester=user) | Q(pk__in=participant_of) | Q(pk__in=merged_into.values("duplicate_of"))
    )


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


def incident_history(user: User, incident: Incident) -> QuerySet[AuditEvent]:
    return parts_for(user, incident).history(incident)


def incident_comments(user: User, incident: Incident) -> QuerySet[Comment]:
    return parts_for(user, incident).comments(incident)


def incident_timeline(user: User, incident: Incident) -> list[TimelineEntry]:
    """What this user may read of the incident's activity (itsm.visibility decides)."""
    return parts_for(user, incident).timeline(incident)


def incident_counts(qs: QuerySet[Incident]) -> dict[str, dict[Any, int]]:
    """Counts per state and per priority for a queue, in one query each."""
    by_status = dict(qs.order_by().values_list("status").annotate(n=Count("id")))
    by_priority = dict(qs.order_by().values_list("priority").annotate(n=Count("id")))
    return {"status": by_status, "priority": by_priority}


def routed_to(user: User, team_id: int) -> Q:
    """What other apps route into ``team_id``'s queue (``core.extensions.team_queue_q``),
    asked once per request: kept on the user object like its teams."""
    memo = user.__dict__.setdefault("_tandem_routed", {})
    if team_id not in memo:
        memo[team_id] = team_queue_q("incident", team_id)
    return memo[team_id]


def incident_queue(user: User, queue: str) -> QuerySet[Incident]:
    """The named queue: ``mine`` (assigned to me, open), ``team-<id>`` (a team's open work,
    with what is routed to it as well),
    ``unassigned`` (open, held by nobody, in the user's teams' queues), ``all``."""
    qs = incident_list(user)
    open_q = Q(status__in=OPEN)
    if queue == "mine":
        return qs.filter(open_q, assignee=user)
    if queue.startswith("team-"):
        team_id = parse_id(queue.removeprefix("team-"))
        if team_id is None:
            raise NotFound(f"No queue {queue}.")
        # ...and what other apps route to the team as well (core.extensions).
        return qs.filter(open_q, Q(team_id=team_id) | routed_to(user, team_id))
    if queue == "unassigned":
        # Nobody holds it, in the queues the user works in (JSM's "Unassigned"); who works
        # in no team (a process manager) sees every unassigned incident.
        unheld = qs.filter(open_q, assignee__isnull=True)
        teams = permissions.user_team_ids(user)
        if not teams:
            return unheld
        routed = Q()
        for team_id in teams:  # and what other apps route to those teams (hypercare)
            routed |= routed_to(user, team_id)
        return unheld.filter(Q(team_id__in=teams) | routed)
    if queue == "all":
        return qs
    raise NotFound(f"No queue {queue}.")


# --- problems -----------------------------------------------------------------------------
def problem_list(user: User) -> QuerySet[Problem]:
    """Staff see every problem; requesters none (they see workarounds on their incidents)."""
    if not permissions.can_view_problem(user):
        return Problem.objects.none()
    return (
        Problem.objects.select_related("service", "team", "assignee", "created_by", "fix_change")
        .annotate(
            open_incidents=Count("incidents", filter=Q(incidents__status__in=OPEN)),
            linked_incidents=Count("incidents"),
        )
        .prefetch_related(clock_prefetch(), *prefetches_for("problem"))
    )


def problem_get(user: User, ref: str | int) -> Problem:
    return get_by_ref(problem_list(user), Problem.KEY_PREFIX, ref, "problem")


def problem_transitions_for(user: User, problem: Problem) -> list[str]:
    available = {t.name for t in problem.get_available_status_transitions()}
    return [
        n
        for n in PROBLEM_TRANSITIONS
        if n in available and permissions.may_fire_problem_now(user, problem, n)
    ]


def problem_incidents(problem: Problem) -> QuerySet[Incident]:
    return problem.incidents.select_related("service", "team", "assignee", "requester").order_by(
        "-created_at", "-id"
    )


def incidents_by_keys(user: User, keys: list[str]) -> list[Incident]:
    """Resolve ``INC-…`` keys (or ids) the user may see; 400 naming the ones that are not."""
    found, missing = [], []
    for ref in keys:
        try:
            found.append(incident_get(user, ref))
        except NotFound:
            missing.append(str(ref))
    if missing:
        raise ValidationFailed(f"No such incident: {', '.join(missing)}.", field="incidents")
    return found


# --- incidents among others (related, merged, major incident and children) ----------------
def incident_related(incident: Incident) -> QuerySet[Incident]:
    return incident.related.select_related("assignee").order_by("number")


def incident_children(incident: Incident) -> QuerySet[Incident]:
    """A major incident's children, oldest first (one query)."""
    return incident.children.select_related("assignee", "team").order_by("number")


def incident_duplicates(incident: Incident) -> QuerySet[Incident]:
    return incident.duplicates.select_related("requester").order_by("number")


def incident_links(user: User, incident: Incident) -> dict[str, Any]:
    """How ``incident`` stands among others, as ``user`` may read it: staff everything
    (``Parts.linked_records``); a requester only the master their incident was merged
    into (the e-mail told them of it)."""
    staff = parts_for(user, incident).linked_records
    none = Incident.objects.none()
    return {
        "duplicate_of": incident.duplicate_of,
        "duplicates": incident_duplicates(incident) if staff else none,
        "parent": incident.parent if staff else None,
        "children": incident_children(incident) if staff else none,
        "related": incident_related(incident) if staff else none,
    }


# --- service requests ---------------------------------------------------------------------
def catalog_items() -> QuerySet[CatalogItem]:
    return (
        CatalogItem.objects.filter(is_active=True)
        .select_related("service", "fulfilment_team", "approval_group")
        .prefetch_related("fields")
    )


def request_list(user: User) -> QuerySet[ServiceRequest]:
    """Staff see every request; a requester their own."""
    qs = ServiceRequest.objects.select_related(
        "item__service", "requester", "team", "assignee"
    ).prefetch_related("tasks", clock_prefetch())
    if is_staff_member(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(requester=user)


def request_get(user: User, ref: str | int) -> ServiceRequest:
    return get_by_ref(request_list(user), ServiceRequest.KEY_PREFIX, ref, "request")


def request_transitions_for(user: User, req: ServiceRequest) -> list[str]:
    available = {t.name for t in req.get_available_status_transitions()}
    return [
        n
        for n in REQUEST_TRANSITIONS
        if n in available and permissions.may_fire_request_now(user, req, n)
    ]


def request_timeline(user: User, req: ServiceRequest) -> list[TimelineEntry]:
    return parts_for(user, req).timeline(req)


# --- changes ------------------------------------------------------------------------------
def change_list(user: User) -> QuerySet[Change]:
    if not permissions.can_view_change(user):
        return Change.objects.none()
    return Change.objects.select_related(
        "requested_by", "implementer", "team", "template", "freeze_override_by"
    ).prefetch_related(
        "services",
        clock_prefetch(),
        Prefetch("caused_incidents", queryset=Incident.objects.order_by("number")),
        *prefetches_for("change"),
    )


def change_get(user: User, ref: str | int) -> Change:
    return get_by_ref(change_list(user), Change.KEY_PREFIX, ref, "change")


def change_transitions_for(user: User, change: Change) -> list[str]:
    available = {t.name for t in change.get_available_status_transitions()}
    return [
        n
        for n in CHANGE_TRANSITIONS
        if n in available and permissions.may_fire_change_now(user, change, n)
    ]


def changes_in(start: Any, end: Any) -> QuerySet[Change]:
    """Changes with a planned window overlapping [start, end), for the calendar."""
    return (
        Change.objects.filter(planned_start__lt=end, planned_end__gt=start)
        .exclude(status__in=["cancelled", "rejected", "draft"])
        .prefetch_related("services")
        .order_by("planned_start")
    )


def change_windows(changes: list[Change]) -> None:
    """Give each change of a list page its ``window_conflicts`` and ``window_freezes``
    (what ``conflicts_of`` and ``freeze_windows_hit`` answer one change at a time) in two
    queries, so the list's queries do not grow with its rows. The changes' services must
    be prefetched (``change_list``)."""
    from itsm.models import FreezeWindow
    from itsm.services.changes import ACTIVE_WINDOW_STATES

    planned = [c for c in changes if c.planned_start and c.planned_end]
    for c in changes:
        c.window_conflicts, c.window_freezes = [], []
    if not planned:
        return
    lo = min(c.planned_start for c in planned)
    hi = max(c.planned_end for c in planned)
    service_ids = {s.pk for c in planned for s in c.services.all()}
    others = list(
        Change.objects.filter(
            status__in=ACTIVE_WINDOW_STATES,
            planned_start__lt=hi,
            planned_end__gt=lo,
            services__in=service_ids,
        )
        .distinct()
        .prefetch_related("services")
    )
    freezes = list(
        FreezeWindow.objects.filter(start__lt=hi, end__gt=lo).prefetch_related("services")
    )
    for c in planned:
        mine = {s.pk for s in c.services.all()}
        c.window_conflicts = [
            o
            for o in others
            if o.pk != c.pk
            and o.planned_start < c.planned_end
            and o.planned_end > c.planned_start
            and mine & {s.pk for s in o.services.all()}
        ]
        c.window_freezes = [
            f
            for f in freezes
            if f.start < c.planned_end
            and f.end > c.planned_start
            and (not f.services.all() or mine & {s.pk for s in f.services.all()})
        ]


# --- saved desk views ---------------------------------------------------------------------
def saved_views_for(user: User) -> QuerySet[SavedView]:
    """The views a user may open: their own, their teams' shared ones, and (for an
    Administrator, who looks after shared views) every team's."""
    if not user.is_authenticated:
        return SavedView.objects.none()
    visible = Q(owner=user) | Q(team_id__in=permissions.user_team_ids(user))
    if is_administrator(user):
        visible |= Q(team__isnull=False)
    return SavedView.objects.filter(visible).select_related("owner", "team").order_by("name", "id")
