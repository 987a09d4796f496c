"""Reads of the development side, with what support's side adds to them."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Min, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from core.selectors import get_by_ref
from itsm.models.incident import OPEN_STATES
from projects import permissions
from projects.models import (
    RS,
    WORK_DONE_STATES,
    WORK_OPEN_STATES,
    WORK_TRANSITIONS,
    EmergencyDecision,
    Kind,
    Project,
    Release,
    WorkItem,
)

# What the API shows of a work item's structure, in one query each whatever the page size
# (a work item reads its state when it is built: ConcurrentTransitionMixin; not deferred).
STRUCTURE_PREFETCH = (
    "labels",
    "components",
    Prefetch(
        "children", queryset=WorkItem.objects.only("id", "kind", "number", "parent_id", "status")
    ),
)

OPEN_INCIDENTS = Q(incidents__status__in=[s.value for s in OPEN_STATES])


def project_list(user: Any) -> QuerySet[Project]:
    if not permissions.can_view(user):
        return Project.objects.none()
    return Project.objects.select_related("team", "project_manager", "calendar").prefetch_related(
        "services"
    )


def filter_archived(qs: QuerySet[Project], archived: str | None) -> QuerySet[Project]:
    """Lists and pickers show active projects; ``archived``: "true" the archived ones,
    "all" both (a project is always found by its code, archived or not)."""
    value = (archived or "").strip().lower()
    if value == "all":
        return qs
    if value in ("true", "1", "yes"):
        return qs.filter(archived_at__isnull=False)
    return qs.filter(archived_at__isnull=True)


def active_projects(user: Any) -> QuerySet[Project]:
    """The projects a create form offers: not archived."""
    return project_list(user).filter(archived_at__isnull=True)


def release_list(user: Any) -> QuerySet[Release]:
    if not permissions.can_view(user):
        return Release.objects.none()
    # slip_days counts in the project's calendar: its days and holidays come prefetched
    return Release.objects.select_related(
        "project__calendar", "change", "uat_signed_off_by"
    ).prefetch_related("project__calendar__periods", "project__calendar__holidays")


def emergency_decisions(user: Any) -> QuerySet[EmergencyDecision]:
    """Emergency decisions, for the staff who may see releases."""
    if not permissions.can_view(user):
        return EmergencyDecision.objects.none()
    return EmergencyDecision.objects.select_related(
        "change", "release", "change_manager", "project_manager", "developer"
    )


def work_items(user: Any, kind: str | None = None) -> QuerySet[WorkItem]:
    """Work items with what their incidents say: how many, how many requesters they hurt,
    and the earliest SLA due moment among them (overdue first)."""
    qs = WorkItem.objects.select_related(
        "project__team",
        "assignee",
        "target_release",
        "fixed_in_release",
        "reported_by",
        "iteration",
    ).annotate(
        incident_count=Count("incidents", distinct=True),
        open_incident_count=Count("incidents", filter=OPEN_INCIDENTS, distinct=True),
        affected_requesters=Count("incidents__requester", filter=OPEN_INCIDENTS, distinct=True),
        earliest_due=Min(
            "incidents__sla_clocks__due_at",
            filter=OPEN_INCIDENTS
            & Q(
                incidents__sla_clocks__stopped_at__isnull=True,
                incidents__sla_clocks__running_since__isnull=False,
            ),
        ),
    )
    if not permissions.can_view(user):
        return qs.none()
    return qs.filter(kind=kind) if kind else qs


def backlog_order(qs: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """What hurts users most first: the earliest breach among linked incidents, then the
    number of requesters affected, then priority."""
    return qs.order_by(
        F("earliest_due").asc(nulls_last=True),
        "-affected_requesters",
        "priority",
        "-created_at",
        "-id",
    )


def items_with_open_incidents(project: Project | None = None) -> QuerySet[Any]:
    """The ids (``workitem_id``) of the work items with an open incident linked, for a
    ``pk__in`` subquery: what the backlog ranks first and the board's filter asks for."""
    links = WorkItem.incidents.through.objects.filter(
        incident__status__in=[s.value for s in OPEN_STATES]
    )
    if project is not None:
        links = links.filter(workitem__project=project)
    return links.values("workitem_id")


BACKLOG_PAGE = 100


def backlog_page(user: Any, project: Project, page: int = 1) -> tuple[list[WorkItem], bool]:
    """One page of ``project``'s backlog (its open items) in backlog order, and whether
    more follow. The order ranks items with an open incident first (earliest breach, then
    requesters affected, then priority) and the others by priority, newest first, so it is
    computed in two parts: the few items with open incidents, ranked with their
    aggregates, then a page of the rest straight from their rows (no aggregate over the
    whole backlog: 1.4 s at 10 000 items when the page listed every item). The same
    order as ``backlog_order`` over every item."""
    from projects.models import WORK_OPEN_STATES

    # a page past any real backlog is simply empty (and its OFFSET stays a bigint)
    page = min(max(1, page), 1_000_000)
    start, end = (page - 1) * BACKLOG_PAGE, page * BACKLOG_PAGE
    scope = work_items(user).filter(project=project, status__in=WORK_OPEN_STATES)
    linked = items_with_open_incidents(project)
    hot = list(backlog_order(scope.filter(pk__in=linked))[start : end + 1])
    hot_before = start if hot else scope.filter(pk__in=linked).count()
    rows = hot[:BACKLOG_PAGE]
    if len(rows) < BACKLOG_PAGE:
        skip = max(0, start - hot_before)
        need = BACKLOG_PAGE - len(rows)
        ids = list(
            WorkItem.objects.filter(project=project, status__in=WORK_OPEN_STATES)
            .exclude(pk__in=linked)
            .order_by("priority", "-created_at", "-id")
            .values_list("pk", flat=True)[skip : skip + need + 1]
        )
        by_id = scope.in_bulk(ids[:need])
        rows += [by_id[pk] for pk in ids[:need] if pk in by_id]
        return rows, len(ids) > need
    return rows, len(hot) > BACKLOG_PAGE or scope.exclude(pk__in=linked).exists()


def work_item_get(user: Any, ref: str | int, kind: str | None = None) -> WorkItem:
    """By key (the prefix says the kind) or by id within ``kind`` (default: defects)."""
    ref = str(ref).strip().upper()
    kind = kind or (Kind.ENHANCEMENT if ref.startswith("ENH-") else Kind.DEFECT)
    return get_by_ref(work_items(user, kind), WorkItem.PREFIXES[kind], ref, kind)


def work_transitions_for(user: Any, item: WorkItem) -> list[str]:
    available = {t.name for t in item.get_available_status_transitions()}
    return [
        n
        for n in WORK_TRANSITIONS
        if n in available and permissions.may_fire_work_now(user, item, n)
    ]


def work_item_sla(item: WorkItem) -> dict[str, Any]:
    """A work item has no SLA clocks of its own: its SLA is its incidents'. The moment
    that matters is the earliest due among its open incidents' running clocks (what the
    backlog orders by); each linked incident comes with its clocks, most urgent first.
    Four queries whatever the number of incidents."""
    from django.utils import timezone

    from sla.selectors import clock_prefetch, ticket_clocks

    now = timezone.now()
    incidents = []
    prefetched = getattr(item, "_prefetched_objects_cache", {}).get("incidents")
    linked = (
        prefetched  # a list's rows come with their incidents and clocks (sla_incidents_prefetch)
        if prefetched is not None
        else item.incidents.select_related("team").prefetch_related(clock_prefetch())
    )
    for incident in linked:
        clocks = ticket_clocks(incident, now)
        # The backlog's rule (``work_items``): ticking clocks only, not paused or stopped.
        running = [
            c.due_at
            for c in clocks
            if c.due_at and c.clock.stopped_at is None and c.clock.running_since is not None
        ]
        incidents.append(
            {
                "incident": incident,
                "is_open": incident.status in {s.value for s in OPEN_STATES},
                "next_due": min(running) if running else None,
                "clocks": clocks,
            }
        )
    incidents.sort(
        key=lambda i: (
            not i["is_open"],
            i["next_due"] is None,
            i["next_due"] or now,
            i["incident"].number,
        )
    )
    open_incidents = [i for i in incidents if i["is_open"]]
    dues = [i["next_due"] for i in open_incidents if i["next_due"] is not None]
    return {
        "key": item.key,
        "earliest_due": min(dues) if dues else None,
        "breached": any(c.level == "breached" for i in open_incidents for c in i["clocks"]),
        "incidents": incidents,
    }


def sla_incidents_prefetch() -> Prefetch:
    """A list of work items loads its incidents with their teams and clocks in four
    queries, so each row's SLA summary (``work_item_sla``) costs none."""
    from itsm.models import Incident
    from sla.selectors import clock_prefetch

    return Prefetch(
        "incidents",
        queryset=Incident.objects.select_related("team").prefetch_related(clock_prefetch()),
    )


def defect_of(incident: Any) -> WorkItem | None:
    return (
        incident.work_items.filter(kind=Kind.DEFECT)
        .select_related("target_release", "fixed_in_release", "project")
        .first()
    )


KNOWN_ISSUES_SHOWN = 20


def releases_with_notes(user: Any) -> QuerySet[Release]:
    """The releases whose notes the desk reads: in progress or live."""
    return release_list(user).filter(
        status__in=[RS.DEVELOPMENT, RS.TESTING, RS.AWAITING_GO_LIVE, RS.LIVE]
    )


def release_notes_for(releases: list[Release]) -> dict[int, dict[str, list[WorkItem]]]:
    """Release notes of several releases in three queries: new features and fixed defects
    (done in it: fixed, released or closed since), and known issues (its project's open
    defects it does not fix, the worst 20)."""
    notes: dict[int, dict[str, list[WorkItem]]] = {
        r.pk: {"features": [], "fixes": [], "known_issues": []} for r in releases
    }
    if not releases:
        return notes
    # What is done, never what is merely targeted: a fixed item names the release it is
    # fixed in (work_fix); one reopened or moved out drops out of the notes.
    for item in WorkItem.objects.filter(
        fixed_in_release__in=releases, status__in=WORK_DONE_STATES
    ).order_by("priority", "pk"):
        key = "features" if item.kind == Kind.ENHANCEMENT else "fixes"
        notes[item.fixed_in_release_id][key].append(item)  # type: ignore[index]
    by_project: dict[int, list[WorkItem]] = {}
    # What drops out of a release's known issues is its project's open defects targeted
    # at it (it is to fix them): rank enough per project that each release keeps 20 after
    # its own targeted ones drop out.
    targeted = (
        WorkItem.objects.filter(
            kind=Kind.DEFECT, target_release__in=releases, status__in=WORK_OPEN_STATES
        )
        .values("target_release")
        .annotate(n=Count("pk"))
    )
    cap = KNOWN_ISSUES_SHOWN + max((row["n"] for row in targeted), default=0)
    worst_first = Window(
        RowNumber(), partition_by=[F("project_id")], order_by=[F("priority").asc(), F("pk").asc()]
    )
    for item in (
        WorkItem.objects.filter(
            kind=Kind.DEFECT,
            project_id__in={r.project_id for r in releases},
            status__in=WORK_OPEN_STATES,
        )
        .annotate(rank_in_project=worst_first)
        .filter(rank_in_project__lte=cap)
        .order_by("project_id", "priority", "pk")
    ):
        by_project.setdefault(item.project_id, []).append(item)
    for r in releases:
        notes[r.pk]["known_issues"] = [
            i for i in by_project.get(r.project_id, []) if i.target_release_id != r.pk
        ][:KNOWN_ISSUES_SHOWN]
    return notes


def release_reach(release: Release) -> tuple[set[int], set[str]]:
    """What a release touches, for the knowledge base's review after go-live: the
    services of the items it ships (their incidents', problems' and changes' services,
    and its deploying change's) and the keys of those items. Five queries at most."""
    from core.models import Service

    shipped = WorkItem.objects.filter(fixed_in_release=release, status__in=WORK_DONE_STATES)
    keys = {item.key for item in shipped.only("kind", "number")}
    service_ids: set[int] = set()
    for through in ("incidents__work_items", "problems__defects", "changes__work_items"):
        service_ids |= set(
            Service.objects.filter(**{f"{through}__in": shipped})
            .values_list("pk", flat=True)
            .distinct()
        )
    if release.change_id:
        service_ids |= set(release.change.services.values_list("pk", flat=True))
    return service_ids, keys
