"""The development side's write path: work items, their links to incidents and changes,
and releases. Going to development from an incident is one action here, calling the
incident's own escalation service (projects → itsm, never the other way)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core import events
from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import Comment, Tier
from core.roles import is_staff_member
from core.services import comment_create, outbox_email, sequence_next, team_recipients
from itsm.models import Change, Incident
from itsm.services import incidents as incident_services
from itsm.services.common import (
    Actor,
    created_changes,
    diff,
    lock,
    record,
    require,
    save,
    snapshot,
    ticket_link,
    transitioning,
)
from projects import permissions
from projects.models import Kind, Project, Release, Severity, WorkItem, WorkItemStatus, term

EDITABLE_FIELDS = (
    "title",
    "description",
    "priority",
    "severity",
    "assignee",
    "estimate_hours",
    "target_release",
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
    return Project.objects.filter(services=service_id).order_by("id").first()


# --- work items -----------------------------------------------------------------------------
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
) -> WorkItem:
    """Add a defect or an enhancement to a project's backlog (staff). Audit: ``created``."""
    if not is_staff_member(actor):
        raise ActionForbidden("Work items are for support and development staff.")
    if kind not in Kind.values:
        raise ValidationFailed("Kind is defect or enhancement.", field="kind")
    require(title and title.strip(), "title", "A title is required.")
    if not 1 <= int(priority) <= 5:
        raise ValidationFailed("Priority is 1 to 5.", field="priority")
    _check_release(project, target_release, "target_release")
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
            reported_by=actor,
        )
        item.save()
        record(item, actor, "created", to_state=item.status, changes=created_changes(item))
    return item


def work_item_update(*, item: WorkItem, actor: AbstractBaseUser, **fields: Any) -> WorkItem:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be edited: {', '.join(sorted(unknown))}.",
            errors={f: ["This field cannot be edited."] for f in unknown},
        )
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_work_on(actor, locked.project):
            raise ActionForbidden(f"Only {locked.project.team} may edit {locked.key}.")
        _check_release(locked.project, fields.get("target_release"), "target_release")
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        save(locked)
        changes = diff(locked, before)
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


# --- the bridge -------------------------------------------------------------------------------
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


def _problem_requesters(problem: Any) -> list[str]:
    return sorted(
        {
            i.requester.email
            for i in problem.incidents.select_related("requester")
            if i.requester.email
        }
    )


# --- projects and releases ------------------------------------------------------------------
def release_create(
    *,
    actor: AbstractBaseUser,
    project: Project,
    version: str,
    name: str = "",
    planned_date: date | None = None,
    change: Change | None = None,
    notes: str = "",
) -> Release:
    if not permissions.can_manage_releases(actor, project):
        raise ActionForbidden(
            "Release Managers, Change Managers and the project's managers plan releases."
        )
    require(version and version.strip(), "version", "A version is required.")
    if change is not None:
        _check_deploying_change(project, change)
    if Release.objects.filter(project=project, version=version.strip()).exists():
        raise ValidationFailed(f"{project.code} {version} exists already.", field="version")
    with transaction.atomic():
        release = Release.objects.create(
            project=project,
            version=version.strip(),
            name=name,
            planned_date=planned_date,
            change=change,
            notes=notes,
        )
        record(release, actor, "created", to_state=release.status, changes=created_changes(release))
    return release


def _check_deploying_change(project: Project, change: Change) -> None:
    from itsm.models.change import CHANGE_OPEN_STATES

    if change.status not in CHANGE_OPEN_STATES:
        raise ValidationFailed(
            f"{change.key} is {change.get_status_display().lower()}: name an open change.",
            field="change",
        )
    if not change.services.filter(pk__in=project.services.all()).exists():
        raise ValidationFailed(
            f"{change.key} touches none of {project.name}'s services.", field="change"
        )


def release_set_change(*, release: Release, actor: AbstractBaseUser, change: Change) -> Release:
    """Name (or replace) the change that deploys the release, before it goes live: the
    gate checks that change's approval, window and back-out plan. Who plans releases may;
    the change must be open and touch one of the project's services. Audit:
    ``deploying_change`` on the release, with the old and new change."""
    if not permissions.can_manage_releases(actor, release.project):
        raise ActionForbidden(
            "Release Managers, Change Managers and the project's managers plan releases."
        )
    with transaction.atomic():
        r = lock(release)
        if r.status in ("live", "rolled_back", "cancelled"):
            raise IllegalTransition(
                f"{r} is {r.get_status_display().lower()}: its deploying change is history."
            )
        _check_deploying_change(r.project, change)
        if r.change_id == change.pk:
            return r
        old = r.change
        r.change = change
        r.save(update_fields=["change"])
        record(
            r,
            actor,
            "deploying_change",
            changes={"change": (old, change)},
            comment=f"{change.key} deploys {r}.",
        )
    return r


def _ensure_release(actor: Actor, release: Release, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    if actor is not None and not permissions.can_manage_releases(actor, release.project):
        raise ActionForbidden(f"You may not {name.replace('_', ' ')} {release}.")
    ensure_transition_possible(release, name)


def release_transition(*, release: Release, actor: Actor, name: str, comment: str = "") -> Release:
    """Plan → development → UAT → awaiting go-live, or cancel. Going live and rolling
    back pass the go-live gate (release control)."""
    if name not in ("start_development", "start_testing", "ready", "cancel"):
        # going live and rolling back pass release control: release_go_live, release_roll_back
        raise IllegalTransition(f"'{name}' goes through release control.")
    with transitioning(release, actor, name, ensure=_ensure_release, comment=comment) as r:
        if name == "start_testing":
            outbox_email(
                event="release.uat",
                recipients=_support_recipients(r),
                subject=f"{r} is in UAT",
                body=f"{r} is ready for user acceptance testing.\n\n{ticket_link(r)}",
                target=r,
            )
    return r


def release_move_out_items(
    *,
    release: Release,
    actor: AbstractBaseUser,
    items: list[WorkItem],
    reason: str,
    to_release: Release | None = None,
) -> Release:
    """The recorded decision to ship a release without some unfinished items: each leaves
    the release (for ``to_release``, another open release of the project, or the
    backlog). Only items targeted at it and not done may move. Audit: ``moved_out`` on
    each item, ``items_moved_out`` on the release. Outbox: the development team."""
    from projects.gate import unfinished_items

    require(reason and reason.strip(), "reason", "Say why the items leave the release.")
    if not items:
        raise ValidationFailed("Choose the items to move out.", field="items")
    with transaction.atomic():
        r = lock(release)
        if not permissions.can_manage_releases(actor, r.project):
            raise ActionForbidden(f"You may not change what {r} contains.")
        if r.status in ("live", "rolled_back", "cancelled"):
            raise IllegalTransition(f"{r} is {r.get_status_display().lower()}.")
        if to_release is not None:
            _check_release(r.project, to_release, "to_release")
            if to_release.pk == r.pk or to_release.status in ("live", "rolled_back", "cancelled"):
                raise ValidationFailed(
                    f"{to_release} cannot take them: name another open release.",
                    field="to_release",
                )
        movable = {i.pk for i in unfinished_items(r)}
        wrong = [i.key for i in items if i.pk not in movable]
        if wrong:
            raise ValidationFailed(
                f"Not unfinished items of {r}: {', '.join(wrong)}.", field="items"
            )
        where = str(to_release) if to_release else "the backlog"
        for item in items:
            w = lock(item)
            before = snapshot(w)
            w.target_release = to_release
            save(w)
            record(w, actor, "moved_out", before=before, comment=f"Out of {r} ({where}): {reason}")
        keys = ", ".join(i.key for i in items)
        record(r, actor, "items_moved_out", comment=f"{keys} moved to {where}: {reason}")
        outbox_email(
            event="release.items_moved_out",
            recipients=team_recipients(r.project.team),
            subject=f"{r} ships without {keys}",
            body=f"{actor} moved {keys} out of {r} to {where}: {reason}\n\n{ticket_link(r)}",
            target=r,
        )
    return r


def _support_recipients(release: Release) -> list[str]:
    out: set[str] = set()
    for service in release.project.services.select_related("support_team"):
        out.update(team_recipients(service.support_team))
    return sorted(out)


def work_comment(
    *, item: WorkItem, actor: AbstractBaseUser, body: str, public: bool = False
) -> Comment:
    require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_work_item(actor, locked):
            raise ActionForbidden(f"Only {locked.project.team} may write on {locked.key}.")
        return comment_create(target=locked, author=actor, body=body.strip(), public=False)


__all__ = ["WorkItemStatus"]


# --- release control ------------------------------------------------------------------------
def release_sign_off_uat(
    *, release: Release, actor: AbstractBaseUser, comment: str = ""
) -> Release:
    """2nd-line support, who coordinates UAT, signs it off (release in testing)."""
    if not permissions.can_sign_off_uat(actor, release):
        raise ActionForbidden("UAT is signed off by 2nd-line support.")
    with transaction.atomic():
        r = lock(release)
        if r.status not in ("testing", "awaiting_go_live"):
            raise IllegalTransition(f"{r} is {r.get_status_display().lower()}, not in UAT.")
        if r.uat_signed_off_at is not None:
            raise IllegalTransition(f"{r} is signed off already.")
        before = snapshot(r)
        r.uat_signed_off_by, r.uat_signed_off_at = actor, timezone.now()
        r.save()
        record(r, actor, "uat_signed_off", before=before, comment=comment or "UAT signed off.")
    return r


def _can_go_live(actor: Any, release: Release) -> bool:
    return permissions.can_go_live(actor, release)


def release_go_live(
    *,
    release: Release,
    actor: AbstractBaseUser,
    comment: str = "",
    outside_window_reason: str = "",
) -> Release:
    """Take the release live through the gate (Release or Change Manager).

    The evaluation is kept whether it opens or not. Outside the deploying change's approved
    window the gate stays closed unless a Change Manager gives ``outside_window_reason``
    (kept in the evaluation and the audit row). Going live moves the deploying change to
    review (implemented), marks the fixed work items released, resolves the problems they
    fix, writes "fix is live" on each linked incident and tells its requester, and
    publishes the release notes. What it changed is kept in ``go_live_record``, so a
    rollback reverses exactly that.
    """
    from itsm.permissions import is_change_manager
    from projects.gate import gate_evaluate

    if not _can_go_live(actor, release):
        raise ActionForbidden("Release Managers and Change Managers take releases live.")
    outside_window_reason = (outside_window_reason or "").strip()
    with transaction.atomic():
        r = lock(release)
        if r.status != "awaiting_go_live":
            raise IllegalTransition(
                f"{r} is {r.get_status_display().lower()}; only a release "
                "awaiting go-live can go live."
            )
        if outside_window_reason and not (r.change and is_change_manager(actor, r.change)):
            raise ActionForbidden(
                "Only a Change Manager may take a release live outside its change window."
            )
        allowed, checks = gate_evaluate(
            r, actor, "go_live", outside_window_reason=outside_window_reason
        )
        if allowed:
            if outside_window_reason:
                window = next(c for c in checks if c.name == "window")
                comment = f"{comment}\n{window.reason}".strip()
            live = _go_live(r, actor, comment, outside_window_reason)
    if not allowed:  # raised after commit, so the refused evaluation is kept
        failing = " ".join(f"[{c.label}] {c.reason}" for c in checks if not c.passed)
        raise IllegalTransition(f"The go-live gate is closed. {failing}")
    return live


def _go_live(
    release: Release, actor: AbstractBaseUser, comment: str, outside_window_reason: str = ""
) -> Release:
    from itsm.models import ChangeStatus
    from itsm.services import changes as change_services

    touched: dict[str, Any] = {"change": None, "items": [], "problems": [], "incidents": []}
    with transitioning(release, actor, "go_live", ensure=_ensure_release, comment=comment) as live:
        live.went_live_at = timezone.now()
        live.rolled_back_at = None
    change = live.change
    if change is not None and change.status == ChangeStatus.SCHEDULED:
        change = change_services.change_implement(
            change=change,
            actor=_on_change(actor, change, "implement"),
            comment=f"{live} is going live ({actor}).",
            outside_window_reason=outside_window_reason,
        )
        change_services.change_complete(
            change=change,
            actor=_on_change(actor, change, "complete"),
            comment=f"{live} is live ({actor}).",
        )
        touched["change"] = change.pk
    for item in live.fixed_items.filter(status=WorkItemStatus.FIXED):
        touched["problems"] += _retire_known_errors(item, live, actor)
        with transitioning(item, actor, "release", ensure=_system, comment=f"Live in {live}.") as w:
            touched["items"].append(w.pk)
            for inc in w.incidents.select_related("requester"):
                touched["incidents"].append(inc.pk)
                record(inc, actor, "fix_released", comment=f"The fix is live in {live}.")
                outbox_email(
                    event="incident.fix_live",
                    recipients=[inc.requester.email],
                    subject=f"[{inc.key}] The fix is live: {inc.title}",
                    body=f"The fix for your incident {inc.key} went live today in "
                    f"{live.project} {live.version}.\n\n{ticket_link(inc)}",
                    target=inc,
                )
    Release.objects.filter(pk=live.pk).update(go_live_record=touched)
    live.go_live_record = touched
    # The knowledge base flags articles about its services (core.events).
    events.publish(events.RELEASE_LIVE, release=live, actor=actor)
    outbox_email(
        event="release.live",
        recipients=_support_recipients(live),
        subject=f"{live} is live — release notes",
        body=release_notes_text(live),
        target=live,
    )
    return live


def _on_change(actor: AbstractBaseUser, change: Change, name: str) -> Actor:
    """Who moves the deploying change as part of a go-live or rollback: the person, when
    they may move it themselves (a Change Manager, its implementer), else Tandem on
    their behalf (a Release Manager releases; the gate already checked the change)."""
    from itsm.permissions import can_fire_change

    return actor if can_fire_change(actor, change, name) else None


def _legacy_go_live_record(release: Release) -> dict[str, Any]:
    """What a go-live from before ``go_live_record`` existed most likely changed."""
    from itsm.models import ChangeStatus, Problem

    items = list(release.fixed_items.filter(status=WorkItemStatus.RELEASED))
    problems = Problem.objects.filter(
        defects__in=items, status="resolved", resolution_notes__contains=f"live in {release}"
    ).distinct()
    change = release.change
    return {
        "change": change.pk if change and change.status == ChangeStatus.REVIEW else None,
        "items": [i.pk for i in items],
        "problems": [
            {"id": p.pk, "from": "known_error" if p.known_error_at else "investigating"}
            for p in problems
        ],
        "incidents": list(
            Incident.objects.filter(work_items__in=items).values_list("pk", flat=True)
        ),
    }


def release_roll_back(*, release: Release, actor: AbstractBaseUser, reason: str) -> Release:
    """Roll a live release back: undo, on every record, what its go-live did, and tell
    everyone the go-live told. From the go-live record: the deploying change is backed
    out (review → failed, outcome *failed*); each released item reopens, no longer fixed
    in (nor targeted at) the release; each problem it resolved is reopened (back to known
    error when it was one) and its requesters are told; each linked incident gets a row
    and its requester a notice. The requesters of incidents raised during its hypercare,
    the desk and the development team are told; the knowledge base withdraws the flags
    the go-live raised (core.events). One transaction."""
    from itsm.models import ChangeStatus, Problem, ProblemStatus
    from itsm.services import changes as change_services
    from itsm.services import problems as problem_services
    from projects.suspects import release_suspect_incidents

    require(reason and reason.strip(), "reason", "Say why the release is rolled back.")
    reason = reason.strip()
    if not _can_go_live(actor, release):
        raise ActionForbidden("Release Managers and Change Managers roll releases back.")
    why = f"{release} was rolled back ({actor}): {reason}"
    with transaction.atomic():
        with transitioning(
            release, actor, "roll_back", ensure=_ensure_release, comment=reason
        ) as r:
            r.rolled_back_at = timezone.now()
        done = r.go_live_record or _legacy_go_live_record(r)
        undone: list[str] = []
        if done.get("change"):
            change = Change.objects.get(pk=done["change"])
            if change.status == ChangeStatus.REVIEW:
                change_services.change_fail(
                    change=change, actor=_on_change(actor, change, "fail"), comment=why
                )
                undone.append(f"{change.key} backed out")
        told: set[int] = set()
        for item in WorkItem.objects.filter(
            pk__in=done.get("items", []), status=WorkItemStatus.RELEASED
        ):
            with transitioning(item, actor, "reopen", ensure=_system, comment=why) as w:
                w.fixed_in_release = None
                if w.target_release_id == r.pk:
                    w.target_release = None  # a rolled-back release ships nothing: retarget
                for inc in w.incidents.select_related("requester"):
                    told.add(inc.pk)
                    record(
                        inc,
                        actor,
                        "fix_rolled_back",
                        # the requester reads this row: the defect is not named to them
                        comment=f"{r} was rolled back; the fix is being reworked.",
                    )
                    outbox_email(
                        event="incident.fix_rolled_back",
                        recipients=[inc.requester.email],
                        subject=f"[{inc.key}] The fix was withdrawn: {inc.title}",
                        body=f"{r} was rolled back, so the fix for {inc.key} is not live any "
                        f"more. We are working on it.\n\n{ticket_link(inc)}",
                        target=inc,
                    )
            undone.append(f"{w.key} reopened")
        for entry in done.get("problems", []):
            problem = Problem.objects.filter(pk=entry["id"]).first()
            if problem is None or problem.status != ProblemStatus.RESOLVED:
                continue
            problem = problem_services.problem_reopen(problem=problem, actor=None, reason=why)
            if entry.get("from") == ProblemStatus.KNOWN_ERROR and (
                problem.root_cause and problem.workaround
            ):
                problem = problem_services.problem_mark_known_error(
                    problem=problem, actor=None, comment="The known error stands again."
                )
            undone.append(f"{problem.key} reopened")
            outbox_email(
                event="problem.fix_withdrawn",
                recipients=_problem_requesters(problem),
                subject=f"The fix for a known issue was withdrawn: {problem.title}",
                body=f"{r} was rolled back: the problem behind your incident is not fixed "
                f"yet.{' Workaround: ' + problem.workaround if problem.workaround else ''}",
                target=problem,
            )
        for inc in release_suspect_incidents(r).exclude(pk__in=told).exclude(status="cancelled"):
            record(
                inc,
                actor,
                "release_rolled_back",
                comment=f"{r}, which went live shortly before this incident, was rolled back.",
            )
            outbox_email(
                event="incident.release_rolled_back",
                recipients=[inc.requester.email],
                subject=f"[{inc.key}] {r} was rolled back: {inc.title}",
                body=f"The release that went live on {inc.service} shortly before you raised "
                f"{inc.key} was rolled back. If it caused your problem, it should be gone; "
                f"tell us if it is not.\n\n{ticket_link(inc)}",
                target=inc,
            )
        events.publish(events.RELEASE_ROLLED_BACK, release=r, actor=actor, reason=reason)
        outbox_email(
            event="release.rolled_back",
            recipients=sorted(set(_support_recipients(r)) | set(team_recipients(r.project.team))),
            subject=f"{r} was rolled back",
            body=f"{r} was rolled back by {actor}: {reason}\n\nUndone: "
            + (", ".join(undone) or "nothing else")
            + f".\n\n{ticket_link(r)}",
            target=r,
        )
    return r


def _system(actor: Any, ticket: Any, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    ensure_transition_possible(ticket, name)


def release_notes(release: Release) -> dict[str, list[WorkItem]]:
    """New features, fixed defects and known issues (open defects on its services)."""
    from projects.selectors import release_notes_for

    return release_notes_for([release])[release.pk]


def release_notes_text(release: Release) -> str:
    notes = release_notes(release)
    lines = [f"{release.project} {release.version} {release.name}".strip(), ""]
    if release.notes:
        lines += [release.notes, ""]
    for title, key in (
        ("New and changed", "features"),
        ("Fixed", "fixes"),
        ("Known issues", "known_issues"),
    ):
        lines.append(f"{title}:")
        lines += [f"  - {i.key} {i.title}" for i in notes[key]] or ["  (none)"]
    return "\n".join(lines)


def emergency_decision_record(
    *,
    actor: AbstractBaseUser,
    change: Change,
    release: Release,
    project_manager: AbstractBaseUser,
    slip_days: int,
    note: str = "",
    developer: AbstractBaseUser | None = None,
) -> Any:
    """Record that an emergency change takes a developer from a project: the Change
    Manager (the actor) names the Project Manager who agreed, the developer taken off the
    project and the slip in the project's working days; the release's planned date moves
    by that many working days. Written on both the change and the release; the Project
    Manager is asked to confirm (or contest) it, and the team is told."""
    from core.roles import Role, has_role
    from itsm.models import ChangeType
    from itsm.permissions import is_change_manager
    from projects.models import EmergencyDecision
    from projects.working_days import add_working_days

    if not is_change_manager(actor, change):
        raise ActionForbidden("A Change Manager records an emergency decision.")
    if change.type != ChangeType.EMERGENCY:
        raise ValidationFailed(f"{change.key} is not an emergency change.", field="change")
    if not (
        has_role(project_manager, Role.PROJECT_MANAGER)
        or release.project.project_manager_id == project_manager.pk
    ):
        raise ValidationFailed(
            f"{project_manager} is not a Project Manager.", field="project_manager"
        )
    if developer is not None and not release.project.team.members.filter(pk=developer.pk).exists():
        raise ValidationFailed(
            f"{developer} is not in {release.project.team}, the team building {release.project}.",
            field="developer",
        )
    try:
        slip_days = int(slip_days)
    except (TypeError, ValueError):
        raise ValidationFailed("Slip is a number of working days.", field="slip_days") from None
    if not 0 <= slip_days <= 365:
        raise ValidationFailed("Slip is 0 to 365 working days.", field="slip_days")
    with transaction.atomic():
        r = lock(release)
        if r.status in ("live", "rolled_back", "cancelled"):
            raise IllegalTransition(f"{r} is {r.get_status_display().lower()}.")
        before = snapshot(r)
        planned_before = r.planned_date
        if slip_days and r.planned_date:
            r.original_planned_date = r.original_planned_date or r.planned_date
            r.planned_date = add_working_days(r.planned_date, slip_days, r.project.calendar)
            r.save()
        decision = EmergencyDecision.objects.create(
            change=change,
            release=r,
            change_manager=actor,
            project_manager=project_manager,
            developer=developer,
            slip_days=slip_days,
            note=note,
            planned_date_before=planned_before,
            planned_date_after=r.planned_date,
        )
        text = (
            f"Emergency {change.key} agreed by {actor} (Change Manager) and "
            f"{project_manager} (Project Manager)"
            + (f", taking {developer} off {r.project}" if developer else "")
            + f": {r} moves {slip_days} working day(s)"
            + (f" to {r.planned_date:%d %b %Y}" if r.planned_date else "")
            + (f". {note}" if note else ".")
        )
        record(r, actor, "emergency_decision", before=before, comment=text)
        record(change, actor, "emergency_decision", comment=text)
        outbox_email(
            event="release.emergency_slip",
            recipients=sorted(
                {
                    project_manager.email,
                    *([developer.email] if developer and developer.email else []),
                    *team_recipients(r.project.team),
                }
                - {""}
            ),
            subject=f"{r}: emergency {change.key} moves the release {slip_days} working day(s)",
            body=f"{text}\n\n{project_manager}, please confirm or contest it: "
            f"{ticket_link(change)}",
            target=r,
        )
    return decision


def _ensure_decision_pm(actor: AbstractBaseUser, decision: Any, verb: str) -> None:
    if not permissions.can_answer_emergency_decision(actor, decision):
        raise ActionForbidden(
            f"Only {decision.project_manager}, the Project Manager named, {verb}."
        )
    if decision.status != "proposed":
        raise IllegalTransition(f"The decision is {decision.get_status_display().lower()} already.")


def emergency_decision_confirm(*, decision: Any, actor: AbstractBaseUser, comment: str = "") -> Any:
    """The Project Manager named confirms the emergency decision (proposed → confirmed).
    Audit on the release and the change; the Change Manager is told."""
    from projects.models import EmergencyDecision

    with transaction.atomic():
        d = EmergencyDecision.objects.select_for_update().get(pk=decision.pk)
        _ensure_decision_pm(actor, d, "confirms it")
        d.status, d.pm_decided_at, d.pm_comment = "confirmed", timezone.now(), comment.strip()
        d.save()
        text = f"{actor} (Project Manager) confirmed emergency {d.change.key} on {d.release}" + (
            f": {d.pm_comment}" if d.pm_comment else "."
        )
        record(d.release, actor, "emergency_decision_confirmed", comment=text)
        record(d.change, actor, "emergency_decision_confirmed", comment=text)
        outbox_email(
            event="release.emergency_confirmed",
            recipients=[d.change_manager.email],
            subject=f"{d.release}: emergency {d.change.key} confirmed by {actor}",
            body=f"{text}\n\n{ticket_link(d.change)}",
            target=d.release,
        )
    return d


def emergency_decision_contest(*, decision: Any, actor: AbstractBaseUser, reason: str) -> Any:
    """The Project Manager named contests the decision (proposed → contested): the slip it
    made is taken back (when the date has not moved since) and the Change Manager must
    settle it with them. Audit on the release and the change; the Change Manager is told."""
    from projects.models import EmergencyDecision

    require(reason and reason.strip(), "reason", "Say why you contest it.")
    with transaction.atomic():
        d = EmergencyDecision.objects.select_for_update().get(pk=decision.pk)
        _ensure_decision_pm(actor, d, "contests it")
        d.status, d.pm_decided_at, d.pm_comment = "contested", timezone.now(), reason.strip()
        d.save()
        r = lock(d.release)
        before = snapshot(r)
        if d.slip_days and r.planned_date and r.planned_date == d.planned_date_after:
            r.planned_date = d.planned_date_before
            if r.planned_date == r.original_planned_date:
                r.original_planned_date = None
            r.save()
        text = (
            f"{actor} (Project Manager) contests emergency {d.change.key} on {r}: "
            f"{d.pm_comment}"
            + (f" The release is back to {r.planned_date:%d %b %Y}." if r.planned_date else "")
        )
        record(r, actor, "emergency_decision_contested", before=before, comment=text)
        record(d.change, actor, "emergency_decision_contested", comment=text)
        outbox_email(
            event="release.emergency_contested",
            recipients=[d.change_manager.email],
            subject=f"{r}: emergency {d.change.key} contested by {actor}",
            body=f"{text}\n\n{ticket_link(d.change)}",
            target=r,
        )
    return d
