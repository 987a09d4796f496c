"""Helpers the development side's services share."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from core.exceptions import ValidationFailed
from core.services import team_recipients
from itsm.services.common import (
    Actor,
    transitioning,
)
from projects import permissions
from projects.models import Project, Release, WorkItem

EDITABLE_FIELDS = (
    "title",
    "description",
    "priority",
    "severity",
    "assignee",
    "estimate_hours",
    "target_release",
    "labels",
    "components",
    "parent",
)


def _transitioning(
    item: WorkItem, actor: Actor, name: str, comment: str = ""
) -> AbstractContextManager[WorkItem]:
    return transitioning(
        item, actor, name, ensure=permissions.ensure_can_fire_work, comment=comment
    )


def _check_release(item_project: Project, release: Release | None, field: str) -> None:
    if release is not None and release.project_id != item_project.pk:
        raise ValidationFailed(f"{release} is not a release of {item_project}.", field=field)


def project_for_service(service_id: int) -> Project | None:
    """The project that builds the service (an archived one takes no new defects)."""
    return (
        Project.objects.filter(services=service_id, archived_at__isnull=True).order_by("id").first()
    )


def _problem_requesters(problem: Any) -> list[str]:
    return sorted(
        {
            i.requester.email
            for i in problem.incidents.select_related("requester")
            if i.requester.email
        }
    )


def _support_recipients(release: Release) -> list[str]:
    out: set[str] = set()
    for service in release.project.services.select_related("support_team"):
        out.update(team_recipients(service.support_team))
    return sorted(out)


def _system(actor: Any, ticket: Any, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    ensure_transition_possible(ticket, name)
