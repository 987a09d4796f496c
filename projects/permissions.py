"""Who may do what on the development side."""

from __future__ import annotations

from typing import Any

from core.exceptions import ActionForbidden, IllegalTransition
from core.roles import Role, holds_process_role, is_staff_member
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
    return is_staff_member(user)


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


def can_go_live(user: Any, release: Any) -> bool:
    """Take a release live (through the gate) or roll it back: Release and Change
    Managers, global or for one of the project's services."""
    project = release.project
    return is_release_manager(user, project) or is_change_manager_for(user, project)
