"""Projects, managed by who owns them: create, edit, archive and restore.

Every write is one transaction with one audit row on the project (``created``,
``updated``, ``archived``, ``restored``); pages, the API and the Django admin call
these functions. An archived project stays readable but takes no new work items,
releases or iterations (``ensure_project_active``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from core.exceptions import ActionForbidden, ConflictError, IllegalTransition, ValidationFailed
from core.models import Service, Team, Tier
from core.retire import ensure_not_retired
from core.roles import is_staff_member
from core.services import moment_now
from core.validation import ensure_lengths
from itsm.services.common import created_changes, ensure_editable, lock, record, snapshot
from projects import permissions
from projects.models import Project, ReviewScope, WorkItemStatus

# What an edit may change; archiving has its own actions, the rest is the lifecycle's.
PROJECT_EDITABLE = (
    "code",
    "name",
    "description",
    "team",
    "services",
    "project_manager",
    "calendar",
    "review_scope",
    "wip_limits",
)
CODE_SHAPE = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")
FORBIDDEN = "Administrators and Project Managers manage projects."


def ensure_project_active(project: Project, what: str = "new work") -> None:
    """400 when ``project`` is archived: it takes no new work items, releases or
    iterations (its pages stay readable)."""
    from projects.permissions import takes_new_work

    if not takes_new_work(project):
        raise ValidationFailed(
            f"{project.code} is archived: it takes no {what}. Restore it first.",
            field="project",
        )


def _clean_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not CODE_SHAPE.match(code):
        raise ValidationFailed(
            "A code is 2 to 12 letters and digits, starting with a letter (e.g. PAY).",
            field="code",
        )
    return code


def _clean_wip_limits(value: Any) -> dict[str, int]:
    """Column (a work item state) → a positive whole number."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(
            'WIP limits are an object of column → limit, e.g. {"in_progress": 4}.',
            field="wip_limits",
        )
    states = set(WorkItemStatus.values)
    out: dict[str, int] = {}
    for column, limit in value.items():
        if column not in states:
            raise ValidationFailed(
                f"'{column}' is not a board column; columns are: {', '.join(sorted(states))}.",
                field="wip_limits",
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationFailed(
                f"The limit of '{column}' must be a positive whole number.", field="wip_limits"
            )
        out[column] = limit
    return out


def check_project_fields(fields: dict[str, Any], *, project: Project | None) -> dict[str, Any]:
    """Validate and normalise the given fields (400 naming the field)."""
    out = dict(fields)
    if "code" in out:
        out["code"] = _clean_code(out["code"])
        clash = Project.objects.filter(code__iexact=out["code"])
        if project is not None:
            clash = clash.exclude(pk=project.pk)
        if clash.exists():
            raise ValidationFailed(f"A project {out['code']} exists already.", field="code")
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            raise ValidationFailed("A name is required.", field="name")
        clash = Project.objects.filter(name__iexact=out["name"])
        if project is not None:
            clash = clash.exclude(pk=project.pk)
        if clash.exists():
            raise ValidationFailed(f"A project named {out['name']} exists already.", field="name")
    if "team" in out:
        team = out["team"]
        if not isinstance(team, Team):
            raise ValidationFailed("Name the development team that owns it.", field="team")
        if team.tier != Tier.DEVELOPMENT:
            raise ValidationFailed(f"{team} is not a development (3rd-line) team.", field="team")
        ensure_not_retired(team, field="team", current=project.team_id if project else None)
    if out.get("calendar") is not None:  # a retired calendar is chosen by no new project
        current = project.calendar_id if project else None  # type: ignore[attr-defined]
        ensure_not_retired(out["calendar"], field="calendar", current=current)
    if out.get("project_manager") is not None and not is_staff_member(out["project_manager"]):
        raise ValidationFailed(
            "The project manager must be a member of staff.", field="project_manager"
        )
    if "review_scope" in out and out["review_scope"] not in ReviewScope.values:
        raise ValidationFailed(
            f"Review scope is one of: {', '.join(ReviewScope.values)}.", field="review_scope"
        )
    if "wip_limits" in out:
        out["wip_limits"] = _clean_wip_limits(out["wip_limits"])
    if "description" in out:
        out["description"] = out["description"] or ""
    ensure_lengths(Project, out)
    return out


def _service_labels(services: Iterable[Service]) -> list[str]:
    return sorted(s.name for s in services)


def project_create(
    *,
    actor: AbstractBaseUser,
    code: str,
    name: str,
    team: Team,
    description: str = "",
    services: Iterable[Service] = (),
    project_manager: AbstractBaseUser | None = None,
    calendar: Any = None,
    review_scope: str = ReviewScope.TOUCHED,
    wip_limits: dict[str, int] | None = None,
) -> Project:
    """Create a project (administrators and Project Managers, ``can_manage_projects``).

    Preconditions: the code (2–12 letters and digits) and the name are unique, the team
    is a development team, WIP limits name work item states with positive limits.
    Audit: ``created`` on the project with its fields and services. No e-mail."""
    if not permissions.can_manage_projects(actor):
        raise ActionForbidden(FORBIDDEN)
    data = check_project_fields(
        {
            "code": code,
            "name": name,
            "team": team,
            "description": description,
            "project_manager": project_manager,
            "calendar": calendar,
            "review_scope": review_scope,
            "wip_limits": wip_limits or {},
        },
        project=None,
    )
    chosen = list(services)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: another create took the code first
                project = Project.objects.create(**data)
        except IntegrityError as exc:
            raise ConflictError(f"A project {data['code']} exists already.") from exc
        project.services.set(chosen)
        changes = created_changes(project)
        if chosen:
            changes["services"] = (None, _service_labels(chosen))
        record(project, actor, "created", changes=changes)
    return project


def project_update(*, project: Project, actor: AbstractBaseUser, **fields: Any) -> Project:
    """Edit a project's fields (``PROJECT_EDITABLE``; anything else is a 400).

    Preconditions: ``can_manage_projects``; the code may change only while the project
    has no work items and no releases (their keys and names are quoted in links, e-mails
    and release notes); the same checks as ``project_create``. Audit: ``updated`` with
    the changed fields (services as names), nothing when nothing changed. An archived
    project may still be edited (to correct it before restoring)."""
    ensure_editable(fields, PROJECT_EDITABLE)
    if not permissions.can_manage_projects(actor):
        raise ActionForbidden(FORBIDDEN)
    with transaction.atomic():
        p = lock(project)
        data = check_project_fields(fields, project=p)
        renamed = "code" in data and data["code"] != p.code
        if renamed and (p.work_items.exists() or p.releases.exists()):
            raise ValidationFailed(
                f"{p.code} has work items or releases: its code is quoted in their "
                "links and notes and cannot change.",
                field="code",
            )
        services = data.pop("services", None)
        before = snapshot(p)
        for name, value in data.items():
            setattr(p, name, value)
        changes = {
            k: (before[k], getattr(p, k))
            for k in Project.AUDITED_FIELDS
            if before[k] != getattr(p, k)
        }
        if services is not None:
            old = _service_labels(p.services.all())
            new = _service_labels(services)
            if old != new:
                p.services.set(list(services))
                changes["services"] = (old, new)
        if not changes:
            return p
        try:
            with transaction.atomic():
                p.save()
        except IntegrityError as exc:
            raise ConflictError("Another project took that code or name first.") from exc
        record(p, actor, "updated", changes=changes)
    return p


def project_archive(*, project: Project, actor: AbstractBaseUser, reason: str = "") -> Project:
    """Archive a project: it leaves the project list, the board selector and the create
    forms, and takes no new work items, releases or iterations; its pages, items and
    history stay readable and its open items can still be worked. Preconditions:
    ``can_manage_projects``; not archived already (409). Audit: ``archived``."""
    if not permissions.can_manage_projects(actor):
        raise ActionForbidden(FORBIDDEN)
    with transaction.atomic():
        p = lock(project)
        if p.archived_at is not None:
            raise IllegalTransition(f"{p.code} is archived already.")
        p.archived_at, p.archived_by = moment_now(), actor
        p.save(update_fields=["archived_at", "archived_by"])
        record(p, actor, "archived", comment=reason.strip())
    return p


def project_restore(*, project: Project, actor: AbstractBaseUser, reason: str = "") -> Project:
    """Undo an archive. Preconditions: ``can_manage_projects``; archived (409
    otherwise). Audit: ``restored``."""
    if not permissions.can_manage_projects(actor):
        raise ActionForbidden(FORBIDDEN)
    with transaction.atomic():
        p = lock(project)
        if p.archived_at is None:
            raise IllegalTransition(f"{p.code} is not archived.")
        p.archived_at, p.archived_by = None, None
        p.save(update_fields=["archived_at", "archived_by"])
        record(p, actor, "restored", comment=reason.strip())
    return p
