"""Work items (defects and enhancements): create, edit, their lifecycle and work notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Comment
from core.roles import is_staff_member
from core.services import comment_create, outbox_email, sequence_next, team_recipients
from core.validation import ensure_lengths
from itsm.services import incidents as incident_services
from itsm.services.common import (
    Actor,
    created_changes,
    diff,
    ensure_editable,
    lock,
    record,
    require,
    save,
    snapshot,
    ticket_link,
)
from projects import permissions
from projects.models import Kind, Project, Release, Severity, WorkItem, term
from projects.services import structure
from projects.services.common import EDITABLE_FIELDS, _check_release, _transitioning
from projects.services.projects import ensure_project_active


def work_item_create(
    *,
    actor: AbstractBaseUser,
    kind: str,
    project: Project,
    title: str,
    description: str = "",
    priority: int = 3,
    severity: str = Severity.MAJOR,
    assignee: AbstractBaseUser | None = None,
    estimate_hours: Any = None,
    target_release: Release | None = None,
    labels: list[str] | None = None,
    components: list[str] | None = None,
    parent: WorkItem | None = None,
    reported_by: AbstractBaseUser | None = None,
) -> WorkItem:
    """Add a defect or an enhancement to a project's backlog (staff); ``parent`` makes it
    a child (a story of an epic, a sub-task), in the same project. ``reported_by``: the
    staff member the actor records it for (an import from a tracker), else the actor.
    Labels are created on first use; components must be the project's (400 naming the
    unknown). The assignee is one of ``structure.assignable_users``. Audit: ``created``
    with its fields, labels and components."""
    if not is_staff_member(actor):
        raise ActionForbidden("Work items are for support and development staff.")
    if kind not in Kind.values:
        raise ValidationFailed("Kind is defect or enhancement.", field="kind")
    require(title and title.strip(), "title", "A title is required.")
    ensure_lengths(WorkItem, {"title": title.strip()})
    ensure_project_active(project, "new work items")
    if not 1 <= int(priority) <= 5:
        raise ValidationFailed("Priority is 1 to 5.", field="priority")
    _check_release(project, target_release, "target_release")
    structure.assignee_check(project, assignee)
    structure.parent_check(None, parent, project)
    if parent is not None and not permissions.can_edit_work_item(actor, parent):
        raise ActionForbidden(f"Only {project.team} may add items under {parent.key}.")
    if reported_by is not None and not (reported_by.is_active and is_staff_member(reported_by)):
        raise ValidationFailed("The reporter is an active staff member.", field="reported_by")
    with transaction.atomic():
        item = WorkItem(
            kind=kind,
            number=sequence_next(kind),
            project=project,
            title=title.strip(),
            description=description,
            priority=priority,
            severity=severity,
            assignee=assignee,
            estimate_hours=estimate_hours,
            target_release=target_release,
            parent=parent,
            reported_by=reported_by or actor,
        )
        item.save()
        changes = created_changes(item)
        changes.update(structure.apply_structure(item, labels=labels, components=components))
        record(item, actor, "created", to_state=item.status, changes=changes)
    return item


def work_item_update(*, item: WorkItem, actor: AbstractBaseUser, **fields: Any) -> WorkItem:
    """Edit a work item's fields (``EDITABLE_FIELDS``; 400 naming any other). Preconditions:
    the actor works on the project (``permissions.can_edit_work_item``); a target release
    of the project; an assignee from ``structure.assignable_users`` (or the one it has);
    a parent in the same project, no cycle, three levels at most; labels (names, created
    on first use) and components (names the project keeps). Audit: one ``updated`` row
    with every field that changed (labels and components by name); none if nothing did."""
    ensure_editable(fields, EDITABLE_FIELDS)
    ensure_lengths(WorkItem, fields)
    labels = fields.pop("labels", None)
    components = fields.pop("components", None)
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_edit_work_item(actor, locked):
            raise ActionForbidden(f"Only {locked.project.team} may edit {locked.key}.")
        _check_release(locked.project, fields.get("target_release"), "target_release")
        if "assignee" in fields:
            structure.assignee_check(locked.project, fields["assignee"], locked.assignee_id)
        if "parent" in fields:
            structure.parent_check(locked, fields["parent"], locked.project)
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        save(locked)
        changes = diff(locked, before)
        changes.update(structure.apply_structure(locked, labels=labels, components=components))
        if changes:
            record(locked, actor, "updated", changes=changes)
    return locked


def work_triage(
    *,
    item: WorkItem,
    actor: Actor,
    priority: int | None = None,
    target_release: Release | None = None,
    comment: str = "",
) -> WorkItem:
    with _transitioning(item, actor, "triage", comment) as w:
        if priority is not None:
            w.priority = priority
        if target_release is not None:
            _check_release(w.project, target_release, "target_release")
            w.target_release = target_release
    return w


def work_start(*, item: WorkItem, actor: Actor, comment: str = "") -> WorkItem:
    """Start work; the actor takes the item if nobody has. Whoever works it takes its
    incidents that nobody holds (an escalation leaves them in the queue): each is assigned
    to them through the incident's own service, audited, and its response clock follows
    (met, if nobody had answered yet)."""
    with transaction.atomic():
        with _transitioning(item, actor, "start", comment) as w:
            w.assignee = w.assignee or actor
        if w.assignee is not None:
            _take_unheld_incidents(w, w.assignee, actor)
    return w


def _take_unheld_incidents(item: WorkItem, developer: Any, actor: Actor) -> None:
    from itsm.models import IncidentStatus
    from itsm.permissions import may_fire_now

    for inc in item.incidents.filter(
        status__in=[IncidentStatus.NEW, IncidentStatus.ASSIGNED], assignee__isnull=True
    ).select_related("team"):
        team = next(
            (
                t
                for t in (inc.team, item.project.team)
                if t is not None and t.members.filter(pk=developer.pk).exists()
            ),
            None,
        )
        if team is None:
            continue  # not theirs to take: the queue's lead was told at escalation
        incident_services.incident_assign(
            incident=inc,
            # the person who started the defect, when they may; else Tandem on their behalf
            actor=actor if actor is not None and may_fire_now(actor, inc, "assign") else None,
            team=team,
            assignee=developer,
            comment=f"{developer} started {item.key}, the {term('incident', 'development')} "
            "behind it, and takes it.",
        )


def work_submit_review(*, item: WorkItem, actor: Actor, comment: str = "") -> WorkItem:
    with _transitioning(item, actor, "submit_review", comment) as w:
        pass
    return w


def work_rework(*, item: WorkItem, actor: Actor, comment: str) -> WorkItem:
    require(comment and comment.strip(), "comment", "Say what needs rework.")
    with _transitioning(item, actor, "rework", comment) as w:
        pass
    return w


def work_fix(
    *, item: WorkItem, actor: Actor, release: Release | None = None, comment: str = ""
) -> WorkItem:
    """Fixed, in a named release (the target release unless another is given). The
    agents of its open incidents hear which release brings the fix."""
    with _transitioning(item, actor, "fix", comment) as w:
        w.fixed_in_release = release or w.target_release
        if w.fixed_in_release is None:
            raise ValidationFailed("Name the release that contains the fix.", field="release")
        _check_release(w.project, w.fixed_in_release, "release")
        w.target_release = w.fixed_in_release
        open_incidents = [i for i in w.incidents.all() if i.is_open]
        for inc in open_incidents:
            record(
                inc,
                actor,
                "fix_planned",
                comment=f"{w.key} is fixed; the fix ships in {w.fixed_in_release}.",
            )
        watchers: set[str] = set()
        for inc in open_incidents:
            watchers.update(
                [inc.assignee.email]
                if inc.assignee and inc.assignee.email
                else team_recipients(inc.team)
            )
        outbox_email(
            event="defect.fixed",
            recipients=sorted(watchers),
            subject=f"[{w.key}] Fixed in {w.fixed_in_release}: {w.title}",
            body=f"{w.key} is fixed in {w.fixed_in_release}. Linked incidents: "
            f"{', '.join(i.key for i in open_incidents)}.\n\n{ticket_link(w)}",
            target=w,
        )
    return w


def work_reopen(*, item: WorkItem, actor: Actor, comment: str) -> WorkItem:
    require(comment and comment.strip(), "comment", "Say why it is reopened.")
    with _transitioning(item, actor, "reopen", comment) as w:
        w.fixed_in_release = None
    return w


def work_close(*, item: WorkItem, actor: Actor, comment: str = "") -> WorkItem:
    with _transitioning(item, actor, "close", comment) as w:
        pass
    return w


def work_wont_fix(*, item: WorkItem, actor: Actor, comment: str) -> WorkItem:
    require(comment and comment.strip(), "comment", "Say why it will not be fixed.")
    with _transitioning(item, actor, "wont_fix", comment) as w:
        pass
    return w


def work_mark_duplicate(
    *, item: WorkItem, actor: Actor, duplicate_of: WorkItem, comment: str = ""
) -> WorkItem:
    """A duplicate hands its incidents to the original, so none is lost."""
    if duplicate_of.pk == item.pk or duplicate_of.kind != item.kind:
        raise ValidationFailed("Name another work item of the same kind.", field="duplicate_of")
    with _transitioning(item, actor, "mark_duplicate", comment) as w:
        w.duplicate_of = duplicate_of
        moved = list(w.incidents.all())
        if moved:
            duplicate_of.incidents.add(*moved)
            w.incidents.clear()
            record(
                duplicate_of,
                actor,
                "incidents_linked",
                comment=f"From duplicate {w.key}: " + ", ".join(i.key for i in moved),
            )
    return w


WORK_TRANSITION_SERVICES: dict[str, Callable[..., WorkItem]] = {
    "triage": work_triage,
    "start": work_start,
    "submit_review": work_submit_review,
    "rework": work_rework,
    "fix": work_fix,
    "reopen": work_reopen,
    "close": work_close,
    "wont_fix": work_wont_fix,
    "mark_duplicate": work_mark_duplicate,
}


def work_comment(
    *, item: WorkItem, actor: AbstractBaseUser, body: str, public: bool = False
) -> Comment:
    require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_work_item(actor, locked):
            raise ActionForbidden(f"Only {locked.project.team} may write on {locked.key}.")
        return comment_create(target=locked, author=actor, body=body.strip(), public=False)
