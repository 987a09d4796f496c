"""What the support side shows of the development side (registered in apps.py): the
incident's defect on its page and in its API resource, in support's words."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from core.models import Tier
from core.roles import is_staff_member
from itsm.permissions import can_link_cause
from projects.models import Kind, Severity, WorkItem, term
from projects.permissions import can_log_time, can_send_to_development
from projects.selectors import defect_of
from projects.services import project_for_service


def defects_prefetch() -> Prefetch:
    """Lists of incidents load their defects in one query (see core.extensions)."""
    return Prefetch(
        "work_items",
        to_attr="linked_defects",
        # the project too: a work item's key is its project's code and number. Unordered:
        # the default order costs more to compile than the query, and an incident has one
        # defect at most (``_link_incident``)
        queryset=WorkItem.objects.filter(kind=Kind.DEFECT)
        .select_related("target_release", "fixed_in_release", "project")
        .order_by(),
    )


def _defect(incident: Any) -> Any:
    if hasattr(incident, "linked_defects"):
        return incident.linked_defects[0] if incident.linked_defects else None
    return defect_of(incident)


def incident_defect_field(incident: Any) -> dict[str, Any] | None:
    defect = _defect(incident)
    if defect is None:
        return None
    release = defect.fixed_in_release or defect.target_release
    return {
        "key": defect.key,
        "title": defect.title,
        "status": defect.status,
        "target_release": str(release) if release else None,
        "release_status": release.status if release else None,
    }


def incident_defect_public_field(incident: Any) -> dict[str, Any] | None:
    """What the requester's page says of the defect: that developers work on it and the
    release it is planned for or fixed in; not the defect's key or title."""
    data = incident_defect_field(incident)
    if data is None:
        return None
    return {**data, "key": None, "title": None}


def incident_panel(request: Any, incident: Any) -> dict[str, Any] | None:
    staff = is_staff_member(request.user)
    if not staff:
        return None  # the requester reads one sentence instead (itsm.status)
    defect = _defect(incident)  # prefetched with the incident: no query of its own
    # The form is offered only to those the service lets send it to development.
    if defect is None and not can_send_to_development(request.user, incident):
        return None
    release = defect and (defect.fixed_in_release or defect.target_release)
    return {
        "defect": defect,
        "release": release,
        "staff": staff,
        "incident": incident,
        "to_tier_3": incident.tier < Tier.DEVELOPMENT,
        "project": project_for_service(incident.service_id),
        "severities": Severity.choices,
        "support_word": term("defect", "support"),
        "dev_word": term("incident", "development"),
    }


def suspects_panel(request: Any, incident: Any) -> dict[str, Any] | None:
    """Likely causes: changes and releases that went live on the service just before."""
    from projects.suspects import suspects_for

    if not is_staff_member(request.user) or incident.caused_by_change_id:
        return None
    found = suspects_for(incident)
    if not found:
        return None
    linkable = {s.change.pk for s in found if can_link_cause(request.user, incident, s.change)}
    return {"suspects": found, "incident": incident, "linkable": linkable}


def time_panel(request: Any, incident: Any) -> dict[str, Any] | None:
    """Staff log their time on an incident or a problem (3rd-line support time) and on a
    work item (project time), when they work it."""
    if not is_staff_member(request.user):
        return None
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Sum

    from projects.models import TimeEntry

    logged = TimeEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(incident), object_id=incident.pk
    ).aggregate(total=Sum("hours"))["total"]
    return {
        "target": incident.key,
        "logged": logged or 0,
        "next": incident.get_absolute_url(),
        "can_log": can_log_time(request.user, incident),
    }


def problem_defects_field(problem: Any) -> list[dict[str, Any]]:
    return [
        {
            "key": d.key,
            "status": d.status,
            "release": str(d.fixed_in_release or d.target_release or "") or None,
        }
        for d in problem.defects.all()  # prefetched by problem lists
    ]


def problem_defects_prefetch() -> Prefetch:
    return Prefetch(
        "defects", queryset=WorkItem.objects.select_related("fixed_in_release", "target_release")
    )


def problem_panel(request: Any, problem: Any) -> dict[str, Any] | None:
    """The development side of a problem: the defect(s) that are its permanent fix."""
    from projects.permissions import can_link_fix

    defects = list(problem.defects.select_related("fixed_in_release", "target_release"))
    if not defects and not problem.is_open:
        # resolved (or cancelled) without a defect: nothing is waiting for a release
        return None
    return {
        "defects": defects,
        "problem": problem,
        "can_link": problem.is_open and can_link_fix(request.user, None, problem),
    }


def change_panel(request: Any, change: Any) -> dict[str, Any] | None:
    """The development side of a change: the releases it deploys, the enhancements that
    deliver it (with their progress), and, for an emergency, the decision about which
    project pays for it."""
    from django.contrib.auth import get_user_model

    from core.roles import Role
    from itsm.permissions import is_change_manager
    from projects.models import Release

    releases = _releases_of(change)
    enhancements = _enhancements_of(change)
    from projects.permissions import can_answer_emergency_decision

    decisions = list(
        change.emergency_decisions.select_related(
            "change", "release", "change_manager", "project_manager", "developer"
        )
    )
    for d in decisions:
        d.answerable = d.status == "proposed" and can_answer_emergency_decision(request.user, d)
    can_decide = change.type == "emergency" and is_change_manager(request.user, change)
    if not (releases or enhancements or decisions or can_decide):
        return None
    return {
        "change": change,
        "releases": releases,
        "enhancements": enhancements,
        "delivery": delivery(enhancements),
        "decisions": decisions,
        "can_decide": can_decide,
        "open_releases": Release.objects.exclude(
            status__in=["live", "rolled_back", "cancelled"]
        ).select_related("project"),
        "project_managers": get_user_model().objects.filter(
            groups__name=Role.PROJECT_MANAGER.value, is_active=True
        ),
        # the developers of the teams that build the change's services
        "developers": get_user_model()
        .objects.filter(tandem_teams__projects__services__in=change.services.all(), is_active=True)
        .distinct()
        .order_by("username")
        if can_decide
        else [],
    }


# --- what a change's enhancements deliver (the change page and the change resource) ------
def _logged_hours() -> Any:
    """Project time logged on each work item, summed in the same query as the items."""
    from decimal import Decimal

    from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    from projects.models import TimeEntry

    per_item = (
        TimeEntry.objects.filter(
            content_type__app_label="projects",
            content_type__model="workitem",
            object_id=OuterRef("pk"),
        )
        .order_by()
        .values("object_id")
        .annotate(total=Sum("hours"))
        .values("total")[:1]
    )
    return Coalesce(
        Subquery(per_item),
        Value(Decimal(0)),
        output_field=DecimalField(max_digits=9, decimal_places=2),
    )


def _enhancements_qs() -> Any:
    return (
        WorkItem.objects.filter(kind=Kind.ENHANCEMENT)
        .select_related("target_release__project", "fixed_in_release__project")
        .annotate(logged_hours=_logged_hours())
        .order_by("priority", "pk")
    )


def change_prefetches() -> list[Prefetch]:
    """Lists of changes load their enhancements (with logged time) and releases in two
    queries, whatever the page size (see core.extensions)."""
    from projects.models import Release

    return [
        Prefetch("work_items", queryset=_enhancements_qs(), to_attr="linked_enhancements"),
        Prefetch(
            "releases",
            queryset=Release.objects.select_related("project").order_by("planned_date", "pk"),
            to_attr="deploying_releases",
        ),
    ]


def _enhancements_of(change: Any) -> list[WorkItem]:
    if hasattr(change, "linked_enhancements"):
        return change.linked_enhancements
    return list(_enhancements_qs().filter(changes=change))


def _releases_of(change: Any) -> list[Any]:
    if hasattr(change, "deploying_releases"):
        return change.deploying_releases
    return list(change.releases.select_related("project").order_by("planned_date", "pk"))


def delivery(items: list[WorkItem]) -> dict[str, Any]:
    """How far a change's enhancements are: the share done is the done items' estimate
    over the estimated items' total, or done items over all when none is estimated."""
    from projects.models import WORK_DONE_STATES

    done = [i for i in items if i.status in WORK_DONE_STATES]
    estimated = [i for i in items if i.estimate_hours]
    if estimated:
        basis = "estimate"
        total = sum(i.estimate_hours for i in estimated)
        part = sum(i.estimate_hours for i in estimated if i in done)
    else:
        basis, total, part = "count", len(items), len(done)
    return {
        "done_percent": round(100 * part / total) if total else None,
        "basis": basis if items else None,
        "done": len(done),
        "count": len(items),
        "estimate_hours": sum((i.estimate_hours or 0) for i in items),
        "logged_hours": sum((getattr(i, "logged_hours", 0) or 0) for i in items),
    }


def change_enhancements_field(change: Any) -> list[dict[str, Any]]:
    from projects.api.serializers import ChangeEnhancementSerializer

    rows = []
    for item in _enhancements_of(change):
        release = item.fixed_in_release or item.target_release
        rows.append(
            {
                "key": item.key,
                "title": item.title,
                "status": item.status,
                "target_release": str(release) if release else None,
                "estimate_hours": item.estimate_hours,
                "logged_hours": item.logged_hours,
            }
        )
    return ChangeEnhancementSerializer(rows, many=True).data  # type: ignore[return-value]


def change_delivery_field(change: Any) -> dict[str, Any]:
    from projects.api.serializers import ChangeDeliverySerializer

    return ChangeDeliverySerializer(delivery(_enhancements_of(change))).data  # type: ignore[return-value]


def change_releases_field(change: Any) -> list[dict[str, Any]]:
    from projects.api.serializers import ChangeReleaseSerializer

    rows = [
        {
            "id": r.pk,
            "name": str(r),
            "status": r.status,
            "planned_date": r.planned_date,
            "went_live_at": r.went_live_at,
        }
        for r in _releases_of(change)
    ]
    return ChangeReleaseSerializer(rows, many=True).data  # type: ignore[return-value]


# --- hypercare: the release's team works the incident as well as the desk ----------------
def hypercare_queue_q(team_id: int) -> Any:
    """Incidents routed to the team during a release's hypercare (its 3rd-line queue)."""
    from django.db.models import Q

    from projects.models import HypercareRoute

    # The ids, not a subquery: a queue without routes (most, most of the time) then has no
    # ``OR`` at all and its order is read off an index (Incident.Meta.indexes).
    routed = HypercareRoute.objects.filter(team_id=team_id).values_list("incident_id", flat=True)
    return Q(pk__in=list(routed))


def hypercare_grant(user: Any, incident: Any) -> bool:
    """Members of a team the incident is routed to in hypercare work it (a developer of the
    release's team: the same roles as any agent, itsm.permissions checked them)."""
    from itsm.permissions import user_team_ids
    from projects.models import HypercareRoute

    teams = user_team_ids(user)
    if not teams:
        return False
    if hasattr(incident, "hypercare"):
        return any(r.team_id in teams for r in incident.hypercare)
    return HypercareRoute.objects.filter(incident=incident, team_id__in=teams).exists()


def hypercare_prefetch() -> Prefetch:
    from projects.models import HypercareRoute

    return Prefetch(
        "hypercare_routes",
        # unordered (``_routes`` orders them): the default order costs more to compile
        queryset=HypercareRoute.objects.select_related("release__project", "team").order_by(),
        to_attr="hypercare",
    )


def _routes(incident: Any) -> list[Any]:
    if hasattr(incident, "hypercare"):
        return sorted(incident.hypercare, key=lambda r: (r.created_at, r.pk))
    return list(incident.hypercare_routes.select_related("release__project", "team"))


def incident_hypercare_field(incident: Any) -> list[dict[str, Any]]:
    """The releases in whose hypercare the incident was raised and the teams it is routed
    to for them (empty: none)."""
    return [
        {
            "release": str(r.release),
            "release_id": r.release_id,
            "team": r.team.name,
            "team_id": r.team_id,
        }
        for r in _routes(incident)
    ]


def hypercare_panel(request: Any, incident: Any) -> dict[str, Any] | None:
    """Staff see that the incident came in during a release's hypercare and whose queue
    holds it besides the desk."""
    if not is_staff_member(request.user):
        return None
    routes = _routes(incident)
    return {"routes": routes} if routes else None
