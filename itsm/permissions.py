"""Who may do what with incidents, as plain functions of (user, incident)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from core import extensions, matrix
from core.exceptions import ActionForbidden, IllegalTransition
from core.models import Tier
from core.roles import Role, has_role, holds_process_role, is_administrator, is_staff_member
from itsm.models import Incident

User = AbstractBaseUser | AnonymousUser

# Transitions a requester may fire on their own incident.
REQUESTER_TRANSITIONS = frozenset({"reopen", "close", "cancel"})
# Roles that work incidents in team queues (core.matrix).
AGENT_ROLES = tuple(role for role in Role if role in matrix.AGENTS)


def user_team_ids(user: User) -> frozenset[int]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_tandem_team_ids", None)
    if cached is None:
        cached = frozenset(user.tandem_teams.values_list("id", flat=True))  # type: ignore[union-attr]
        user._tandem_team_ids = cached  # type: ignore[union-attr]
    return cached


def user_tiers(user: User) -> frozenset[int]:
    if not user.is_authenticated:
        return frozenset()
    from core.models import Team

    return frozenset(Team.objects.filter(members=user).values_list("tier", flat=True))


def is_incident_manager(user: User, incident: Incident) -> bool:
    """Incident Managers answer for every incident; a per-service one for that service's."""
    return holds_process_role(user, Role.INCIDENT_MANAGER, [incident.service_id])


def can_view_incident(user: User, incident: Incident) -> bool:
    if is_staff_member(user):
        return True
    if not user.is_authenticated:
        return False
    return incident.requester_id == user.pk or follows_merged(user, incident)


def follows_merged(user: User, incident: Incident) -> bool:
    """A requester whose incident was merged into this one follows it here as its own
    requester reads it (public replies, the steps that concern them), without replying:
    they were told so (``incident_merge``), as JSM makes them a request participant."""
    return (
        user.is_authenticated
        and Incident.objects.filter(duplicate_of=incident.pk, requester=user.pk).exists()
    )


def can_work_incident(user: User, incident: Incident) -> bool:
    """Agents act on incidents in their teams' queues or assigned to them; a new incident
    with no team yet sits with the service desk (tier 1); a team it is routed to as well
    (``core.extensions.register_work_grant``) works it too."""
    if not user.is_authenticated:
        return False
    if is_incident_manager(user, incident):
        return True
    if not has_role(user, *AGENT_ROLES):
        return False
    if incident.assignee_id == user.pk:
        return True
    if incident.team_id is not None:
        if incident.team_id in user_team_ids(user):
            return True
    elif Tier.SERVICE_DESK in user_tiers(user):
        return True
    # Teams another app routes it to as well (projects: the release's team in hypercare).
    return extensions.work_granted("incident", user, incident)


def can_fire(user: User, incident: Incident, name: str) -> bool:
    """May this user ever fire transition ``name`` on this incident (state aside)?"""
    if can_work_incident(user, incident):
        return True
    return (
        name in REQUESTER_TRANSITIONS and user.is_authenticated and incident.requester_id == user.pk
    )


def can_take(user: User, incident: Incident) -> bool:
    """*Assign to me*: a member of the queue's team takes a new or assigned incident that
    someone else (or nobody) holds. No query per incident: the user's teams are read once
    per request (a queue asks this for every row)."""
    if not user.is_authenticated or incident.assignee_id == user.pk:
        return False
    if incident.status not in ("new", "assigned") or incident.team_id is None:
        return False
    return incident.team_id in user_team_ids(user) and can_fire(user, incident, "assign")


def can_edit_incident(user: User, incident: Incident) -> bool:
    return can_work_incident(user, incident)


def can_log_for_others(user: User) -> bool:
    """Agents log incidents on behalf of callers (the desk is the single point of contact)."""
    return is_staff_member(user)


def can_reply_incident(user: User, incident: Incident) -> bool:
    """A public reply: whoever works the incident, and its requester on their own."""
    if can_work_incident(user, incident):
        return True
    return user.is_authenticated and incident.requester_id == user.pk


def can_note_incident(user: User, incident: Incident) -> bool:
    """An internal work note: the same people as any other work on the incident."""
    return can_work_incident(user, incident)


def can_link_to_problem(user: User, incident: Incident, problem: object | None = None) -> bool:
    """Link an incident to a problem: who works the incident, a Problem Manager of its
    service, or one who manages that problem. Pages (no problem chosen yet) ask without
    ``problem``: a subset of what the service then allows."""
    if can_work_incident(user, incident) or is_problem_manager(user, incident.service_id):
        return True
    return problem is not None and can_manage_problem(user, problem)


def can_link_cause(user: User, incident: Incident, change: object | None = None) -> bool:
    """Record that a change caused an incident: who works the incident, or a Change
    Manager of its service (or of that change)."""
    if can_work_incident(user, incident):
        return True
    if holds_process_role(user, Role.CHANGE_MANAGER, [incident.service_id]):
        return True
    return change is not None and is_change_manager(user, change)


def ensure_can_fire(user: User | None, incident: Incident, name: str) -> None:
    """Raise 403 when the user may not fire ``name`` on this incident, 409 when the
    incident's state does not allow it. ``user=None`` is Tandem itself."""
    if user is not None and not can_fire(user, incident, name):
        raise ActionForbidden(f"You may not {name} {incident.key}.")
    if name == "escalate" and incident.tier >= Tier.DEVELOPMENT:
        raise IllegalTransition(f"{incident.key} is already with the 3rd line (development).")
    if name not in {t.name for t in incident.get_available_status_transitions()}:
        raise IllegalTransition(
            f"Cannot {name} {incident.key} while it is {incident.get_status_display().lower()}."
        )


def may_fire_now(user: User, incident: Incident, name: str) -> bool:
    try:
        ensure_can_fire(user, incident, name)
    except (ActionForbidden, IllegalTransition):
        return False
    return True


# --- problems -----------------------------------------------------------------------------
def is_problem_manager(user: User, service_id: int | None = None) -> bool:
    """Problem Managers own the problem queue; a per-service one owns that service's."""
    return holds_process_role(user, Role.PROBLEM_MANAGER, [service_id])


# The steps an open incident takes to be resolved with its problem.
PROBLEM_RESOLUTION_STEPS = frozenset({"resume", "assign", "start", "resolve"})


def may_resolve_via_problem(user: User, problem: object, incident: Incident) -> bool:
    """Who may resolve a resolved problem's linked incident in the problem's name:
    whoever works the incident, and — whatever queue holds it — the Problem Manager of the
    problem's service and the Incident Manager."""
    if not user.is_authenticated or incident.problem_id != problem.pk:  # type: ignore[attr-defined]
        return False
    if problem.status not in ("resolved", "closed"):  # type: ignore[attr-defined]
        return False
    return can_work_incident(user, incident) or is_problem_manager(
        user,
        problem.service_id,  # type: ignore[attr-defined]
    )


def ensure_can_fire_via_problem(problem: object) -> Callable[[User | None, Incident, str], None]:
    """``ensure_can_fire`` for the steps that resolve ``problem``'s incidents: the
    problem's authority stands in for the queue; the incident's state rules still apply."""

    def ensure(user: User | None, incident: Incident, name: str) -> None:
        if (
            user is not None
            and name in PROBLEM_RESOLUTION_STEPS
            and may_resolve_via_problem(user, problem, incident)
        ):
            user = None
        ensure_can_fire(user, incident, name)

    return ensure


def can_view_problem(user: User) -> bool:
    """Problems are support's and development's business; requesters see the workaround
    through their incident instead."""
    return matrix.allows(user, "problem", "view")


def can_manage_problem(user: User, problem: object) -> bool:
    if not user.is_authenticated:
        return False
    if problem.assignee_id == user.pk:  # type: ignore[attr-defined]
        return True
    return is_problem_manager(user, problem.service_id)  # type: ignore[attr-defined]


def can_work_problem(user: User, problem: object) -> bool:
    """Work notes on a problem: its manager(s), its assignee and its team."""
    if can_manage_problem(user, problem):
        return True
    team_id = problem.team_id  # type: ignore[attr-defined]
    return team_id is not None and team_id in user_team_ids(user)


def ensure_can_fire_problem(user: User | None, problem: object, name: str) -> None:
    """403 when the user may not move this problem, 409 when its state forbids ``name``."""
    from itsm.services.common import ensure_transition_possible

    if user is not None and not can_manage_problem(user, problem):
        raise ActionForbidden(f"Only a Problem Manager or its assignee may {name} {problem}.")
    ensure_transition_possible(problem, name)


def may_fire_problem_now(user: User, problem: object, name: str) -> bool:
    try:
        ensure_can_fire_problem(user, problem, name)
    except (ActionForbidden, IllegalTransition):
        return False
    return True


# --- service requests ---------------------------------------------------------------------
REQUESTER_REQUEST_TRANSITIONS = frozenset({"close", "cancel"})


def can_view_request(user: User, req: object) -> bool:
    if is_staff_member(user):
        return True
    return user.is_authenticated and req.requester_id == user.pk  # type: ignore[attr-defined]


def can_work_request(user: User, req: object) -> bool:
    """The fulfilment team, the request's assignee (and administrators) work a request."""
    if not user.is_authenticated:
        return False
    if is_administrator(user) or req.assignee_id == user.pk:  # type: ignore[attr-defined]
        return True
    return req.team_id in user_team_ids(user)  # type: ignore[attr-defined]


def can_reply_request(user: User, req: object) -> bool:
    """A public reply: whoever works the request, and its requester on their own."""
    if can_work_request(user, req):
        return True
    return user.is_authenticated and req.requester_id == user.pk  # type: ignore[attr-defined]


def can_note_request(user: User, req: object) -> bool:
    return can_work_request(user, req)


def ensure_can_fire_request(user: User | None, req: object, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    if user is not None and not (
        can_work_request(user, req)
        or (name in REQUESTER_REQUEST_TRANSITIONS and req.requester_id == user.pk)  # type: ignore[attr-defined]
    ):
        raise ActionForbidden(f"You may not {name.replace('_', ' ')} {req}.")
    ensure_transition_possible(req, name)


def may_fire_request_now(user: User, req: object, name: str) -> bool:
    try:
        ensure_can_fire_request(user, req, name)
    except (ActionForbidden, IllegalTransition):
        return False
    return True


# --- changes ------------------------------------------------------------------------------
CHANGE_MANAGER_TRANSITIONS = frozenset({"assess", "request_approval", "schedule", "close"})
IMPLEMENTER_TRANSITIONS = frozenset({"implement", "complete", "fail"})
REQUESTER_CHANGE_TRANSITIONS = frozenset({"submit", "cancel"})


def is_change_manager(user: User, change: object | None = None) -> bool:
    """Change Managers decide; a per-service one for changes touching their service."""
    ids = [s.pk for s in change.services.all()] if change is not None else []  # type: ignore[attr-defined]
    return holds_process_role(user, Role.CHANGE_MANAGER, ids)


def can_view_change(user: User) -> bool:
    return matrix.allows(user, "change", "view")


def can_work_change(user: User, change: object) -> bool:
    """Work notes on a change: its Change Manager(s), requester, implementer, team, and
    whoever is asked to approve it."""
    if not user.is_authenticated:
        return False
    if is_change_manager(user, change):
        return True
    if user.pk in (change.requested_by_id, change.implementer_id):  # type: ignore[attr-defined]
        return True
    team_id = change.team_id  # type: ignore[attr-defined]
    if team_id is not None and team_id in user_team_ids(user):
        return True
    from itsm.services.approvals import approvals_of, may_decide

    return any(may_decide(user, a) for a in approvals_of(change))


def can_fire_change(user: User, change: object, name: str) -> bool:
    if is_change_manager(user, change):
        return True
    if name in IMPLEMENTER_TRANSITIONS:
        return change.implementer_id == user.pk  # type: ignore[attr-defined]
    if name in REQUESTER_CHANGE_TRANSITIONS:
        return change.requested_by_id == user.pk  # type: ignore[attr-defined]
    return False


def ensure_can_fire_change(user: User | None, change: object, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    if user is not None and not can_fire_change(user, change, name):
        raise ActionForbidden(f"You may not {name.replace('_', ' ')} {change}.")
    ensure_transition_possible(change, name)
    if name == "schedule" and change.type != "standard":  # type: ignore[attr-defined]
        from itsm.services.changes import approvals_complete

        if not approvals_complete(change):  # type: ignore[arg-type]
            raise IllegalTransition(f"{change.key} is not approved by every approver yet.")  # type: ignore[attr-defined]


def may_fire_change_now(user: User, change: object, name: str) -> bool:
    try:
        ensure_can_fire_change(user, change, name)
    except (ActionForbidden, IllegalTransition):
        return False
    return True


# --- saved desk views ---------------------------------------------------------------------
def can_see_saved_view(user: User, view: Any) -> bool:
    """The owner; a team-shared view, the team's members (and Administrators, who look
    after shared views)."""
    if not user.is_authenticated:
        return False
    if view.owner_id == user.pk:
        return True
    if view.team_id is None:
        return False
    return view.team_id in user_team_ids(user) or is_administrator(user)


def can_edit_saved_view(user: User, view: Any) -> bool:
    """A personal view, its owner; a team-shared one, its owner or an Administrator (team
    members use it, they do not rewrite it under each other)."""
    if not user.is_authenticated:
        return False
    if view.owner_id == user.pk:
        return True
    return view.team_id is not None and is_administrator(user)


def can_share_with_team(user: User, team_id: int) -> bool:
    """Share a view with a team one works in; an Administrator with any team."""
    return team_id in user_team_ids(user) or is_administrator(user)
