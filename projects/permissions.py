"""Who may do what on the development side."""

from __future__ import annotations

from typing import Any

from core import matrix
from core.exceptions import ActionForbidden, IllegalTransition
from core.models import Tier
from core.roles import Role, holds_process_role, is_administrator
from itsm.permissions import user_team_ids


def _service_ids(project: Any) -> list[int]:
    return [s.pk for s in project.services.all()]


def is_release_manager(user: Any, project: Any) -> bool:
    """A Release Manager for every project, or per service for the projects that build
    that service (``core.models.ServiceRole``)."""
    return holds_process_role(user, Role.RELEASE_MANAGER, _service_ids(project))


def is_change_manager_for(user: Any, project: Any) -> bool:
    return holds_process_role(user, Role.CHANGE_MANAGER, _service_ids(project))


def can_view(user: Any) -> bool:
    return matrix.allows(user, "project", "view")


def can_work_on(user: Any, project: Any) -> bool:
    """The project's development team, its project manager, Release Managers, admins."""
    if not user.is_authenticated:
        return False
    if is_release_manager(user, project):
        return True
    if project.project_manager_id == user.pk:
        return True
    return project.team_id in user_team_ids(user)


def can_work_item(user: Any, item: Any) -> bool:
    """Work notes and other work on a work item: its project's people and its assignee."""
    if not user.is_authenticated:
        return False
    return item.assignee_id == user.pk or can_work_on(user, item.project)


def ensure_can_fire_work(user: Any, item: Any, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    if user is not None and not can_work_on(user, item.project):
        raise ActionForbidden(f"Only {item.project.team} may {name.replace('_', ' ')} {item.key}.")
    ensure_transition_possible(item, name)


def may_fire_work_now(user: Any, item: Any, name: str) -> bool:
    try:
        ensure_can_fire_work(user, item, name)
    except (ActionForbidden, IllegalTransition):
        return False
    return True


def can_manage_releases(user: Any, project: Any) -> bool:
    """Plan and move releases: Release and Change Managers (global or for one of the
    project's services), the project manager and the team lead."""
    if is_release_manager(user, project) or is_change_manager_for(user, project):
        return True
    return user.is_authenticated and (
        project.project_manager_id == user.pk or project.team.lead_id == user.pk
    )


def can_answer_emergency_decision(user: Any, decision: Any) -> bool:
    """The Project Manager the Change Manager named confirms or contests the decision."""
    return user.is_authenticated and (
        decision.project_manager_id == user.pk or is_administrator(user)
    )


def can_go_live(user: Any, release: Any) -> bool:
    """Take a release live (through the gate) or roll it back: Release and Change
    Managers, global or for one of the project's services."""
    project = release.project
    return is_release_manager(user, project) or is_change_manager_for(user, project)


def can_sign_off_uat(user: Any, release: Any) -> bool:
    """2nd-line support, who coordinates UAT, signs it off (and administrators)."""
    return matrix.allows(user, "release", "sign off UAT")


def release_actions_for(user: Any, release: Any) -> list[tuple[str, str]]:
    """The release actions this user may take now, as (op, label): the page offers
    exactly these and ``ReleaseActionView`` runs them through the same checks."""
    ops: list[tuple[str, str]] = []
    if (
        release.status == "testing"
        and not release.uat_signed_off_at
        and can_sign_off_uat(user, release)
    ):
        ops.append(("sign-off-uat", "Sign off UAT"))
    manage = can_manage_releases(user, release.project)
    live = can_go_live(user, release)
    for t in release.get_available_status_transitions():
        through_control = t.name in ("go_live", "roll_back")  # ops "go-live", "roll-back"
        if live if through_control else manage:
            op = t.name.replace("_", "-") if through_control else t.name
            ops.append((op, t.custom.get("label", t.name)))
    return ops


def can_send_to_development(user: Any, incident: Any) -> bool:
    """Escalate an incident to development and raise or link its defect: who may
    escalate it (below tier 3), who works it (at tier 3)."""
    from itsm.permissions import can_work_incident, may_fire_now

    if not incident.is_open:
        return False
    if incident.tier < Tier.DEVELOPMENT:
        return may_fire_now(user, incident, "escalate")
    return can_work_incident(user, incident)


def can_log_time(user: Any, target: Any) -> bool:
    """Log one's time on a ticket one works: an incident (its team, assignee, Incident
    Manager), a problem (its team, assignee, Problem Manager), a work item (its project)."""
    from itsm.models import Incident, Problem
    from itsm.permissions import can_work_incident, can_work_problem

    if isinstance(target, Incident):
        return can_work_incident(user, target)
    if isinstance(target, Problem):
        return can_work_problem(user, target)
    return can_work_item(user, target)


def can_link_fix(user: Any, item: Any, problem: Any) -> bool:
    """Name a defect as a problem's permanent fix: who works the problem (the problem page
    asks this without a defect) or the defect's project."""
    from itsm.permissions import can_work_problem

    return can_work_problem(user, problem) or (item is not None and can_work_item(user, item))


def can_plan_iterations(user: Any, project: Any) -> bool:
    """Create, edit, start and close a project's iterations: Project Managers (the
    project's, and holders of the role), the development team's lead, administrators."""
    if not user.is_authenticated:
        return False
    if matrix.allows(user, "iteration", "create"):
        return True
    return project.project_manager_id == user.pk or project.team.lead_id == user.pk


def can_plan_items(user: Any, project: Any) -> bool:
    """Plan work items into or out of an iteration: who plans iterations, and the
    project's development team."""
    if can_plan_iterations(user, project):
        return True
    return user.is_authenticated and project.team_id in user_team_ids(user)


def can_manage_projects(user: Any) -> bool:
    """Create, edit, archive and restore projects: administrators and holders of the
    Project Manager role."""
    return matrix.allows(user, "project", "create")


def can_plan_releases(user: Any, project: Any) -> bool:
    """Create a project's releases and edit them: who plans and moves releases
    (``can_manage_releases``: Release and Change Managers, the project's Project Manager,
    its team's lead) and who manages projects (administrators, Project Managers), so a
    Project Manager who creates a project can plan its first release."""
    return can_manage_releases(user, project) or can_manage_projects(user)


def can_edit_release(user: Any, release: Any) -> bool:
    """Edit a release's planning fields (version, name, date, description, deploying
    change, notes intro): who plans the project's releases."""
    return can_plan_releases(user, release.project)


def can_manage_components(user: Any, project: Any) -> bool:
    """Keep a project's list of components: who plans its iterations (its Project
    Manager, the team lead, Project Managers, administrators)."""
    return can_plan_iterations(user, project)


def can_edit_work_item(user: Any, item: Any) -> bool:
    """Edit a work item's fields (title, estimate, labels, parent...): its project's people
    (``can_work_on``). The page's Edit button asks this; ``work_item_update`` checks it."""
    return can_work_on(user, item.project)


def takes_new_work(project: Any) -> bool:
    """An archived project takes no new work items, releases or iterations (its records
    stay editable). ``services.projects.ensure_project_active`` refuses on this; every page
    that offers a "new" form asks it too."""
    return project.archived_at is None


def can_add_child(user: Any, parent: Any) -> bool:
    """Add a work item under ``parent`` (a story under an epic, a sub-task): who may edit
    the parent (``work_item_create`` checks it), in a project that takes new work."""
    return takes_new_work(parent.project) and can_edit_work_item(user, parent)
