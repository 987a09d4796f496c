"""The bridge between support and development: an incident goes to development, and
defects and enhancements are linked to incidents, changes and problems."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import Tier
from core.roles import is_staff_member
from core.services import outbox_email
from itsm.models import Change, Incident
from itsm.services import incidents as incident_services
from itsm.services.common import (
    lock,
    record,
    require,
)
from projects import permissions
from projects.models import Kind, Project, Release, Severity, WorkItem
from projects.services.common import _problem_requesters, project_for_service
from projects.services.work_items import work_item_create


def _link_incident(item: WorkItem, incident: Incident, actor: AbstractBaseUser) -> None:
    if item.incidents.filter(pk=incident.pk).exists():
        return
    other = incident.work_items.filter(kind=Kind.DEFECT).exclude(pk=item.pk).first()
    if other is not None and item.kind == Kind.DEFECT:
        raise ValidationFailed(
            f"{incident.key} is already linked to {other.key}.", field="incident"
        )
    item.incidents.add(incident)
    record(incident, actor, "linked_to_defect", comment=f"Linked to {item.key}: {item.title}")
    record(item, actor, "incident_linked", comment=f"{incident.key}: {incident.title}")


def incident_to_development(
    *,
    incident: Incident,
    actor: AbstractBaseUser,
    reason: str,
    defect: WorkItem | None = None,
    title: str = "",
    severity: str = Severity.MAJOR,
    project: Project | None = None,
) -> WorkItem:
    """Escalate an incident to the development team that owns its service (tier 3) and,
    in the same step, raise a defect on the project that builds the service or link an
    existing one. Already at tier 3: just raise or link. One transaction."""
    require(reason and reason.strip(), "reason", "Say why development is needed.")
    with transaction.atomic():
        inc = lock(incident)
        if not inc.is_open:
            raise IllegalTransition(f"{inc.key} is {inc.get_status_display().lower()}.")
        if inc.tier < Tier.DEVELOPMENT:
            inc = incident_services.incident_escalate(
                incident=inc, actor=actor, reason=reason, tier=Tier.DEVELOPMENT
            )
        elif not permissions.can_send_to_development(actor, inc):
            raise ActionForbidden(f"Only those working {inc.key} send it to development.")
        if defect is None:
            project = project or project_for_service(inc.service_id)
            if project is None:
                raise ValidationFailed(
                    f"No project builds {inc.service}; link an existing defect or name a project.",
                    field="project",
                )
            defect = work_item_create(
                actor=actor,
                kind=Kind.DEFECT,
                project=project,
                title=title or inc.title,
                description=f"From {inc.key}: {inc.description}\n\nEscalation: {reason}",
                priority=inc.priority,
                severity=severity,
            )
        elif defect.kind != Kind.DEFECT:
            raise ValidationFailed(f"{defect.key} is not a defect.", field="defect")
        _link_incident(defect, inc, actor)
    return defect


def defect_link_incident(
    *, item: WorkItem, actor: AbstractBaseUser, incident: Incident
) -> WorkItem:
    if not is_staff_member(actor):
        raise ActionForbidden("Only staff link incidents.")
    with transaction.atomic():
        _link_incident(lock(item), lock(incident), actor)
    return item


def enhancement_link_change(*, item: WorkItem, actor: AbstractBaseUser, change: Change) -> WorkItem:
    """The change needs this enhancement's development work: one piece of work, two views."""
    if item.kind != Kind.ENHANCEMENT:
        raise ValidationFailed(f"{item.key} is not an enhancement.", field="item")
    with transaction.atomic():
        locked = lock(item)
        if not (permissions.can_work_on(actor, locked.project) or is_staff_member(actor)):
            raise ActionForbidden("Only staff link changes.")
        if not locked.changes.filter(pk=change.pk).exists():
            locked.changes.add(change)
            record(locked, actor, "change_linked", comment=f"Delivers {change.key}: {change.title}")
            record(
                change,
                actor,
                "enhancement_linked",
                comment=f"Delivered by {locked.key}: {locked.title}",
            )
    return locked


def defect_link_problem(*, item: WorkItem, actor: AbstractBaseUser, problem: Any) -> WorkItem:
    """This defect is the problem's permanent fix: when the release that contains it goes
    live, the known error is retired and the problem's requesters are told."""
    if item.kind != Kind.DEFECT:
        raise ValidationFailed(f"{item.key} is not a defect.", field="item")
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_link_fix(actor, locked, problem):
            raise ActionForbidden(
                f"Only those working {problem.key} or {locked.project.team} link its fix."
            )
        if not locked.problems.filter(pk=problem.pk).exists():
            locked.problems.add(problem)
            record(locked, actor, "problem_linked", comment=f"Fixes {problem.key}: {problem.title}")
            record(
                problem,
                actor,
                "defect_linked",
                comment=f"Permanent fix: {locked.key} {locked.title}",
            )
    return locked


def _retire_known_errors(
    item: WorkItem, release: Release, actor: AbstractBaseUser
) -> list[dict[str, Any]]:
    """Resolve the problems whose permanent fix ``item`` is; returns what was resolved and
    from which state, for the go-live record."""
    from itsm.models import ProblemStatus
    from itsm.services import problems as problem_services

    touched: list[dict[str, Any]] = []
    for problem in item.problems.filter(
        status__in=[ProblemStatus.INVESTIGATING, ProblemStatus.KNOWN_ERROR]
    ):
        touched.append({"id": problem.pk, "from": problem.status})
        problem = problem_services.problem_resolve(
            problem=problem,
            actor=None,  # a consequence of the go-live, done by Tandem
            resolution_notes=f"Fixed by {item.key}, live in {release}.",
            comment=f"Known error retired: {release} went live ({actor}).",
        )
        outbox_email(
            event="problem.fix_live",
            recipients=_problem_requesters(problem),
            # Requesters never saw the problem's (internal) title: core.visibility.
            subject=f"The fix for a known issue is live in {release}",
            body=f"The problem behind your incident is fixed in {release}.",
            target=problem,
        )
    return touched
