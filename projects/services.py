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
from projects.models import Kind, Project, Release, Severity, WorkItem, WorkItemStatus

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
    with _transitioning(item, actor, "start", comment) as w:
        w.assignee = w.assignee or actor
    return w


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


def _retire_known_errors(item: WorkItem, release: Release, actor: AbstractBaseUser) -> None:
    from itsm.models import ProblemStatus
    from itsm.services import problems as problem_services

    for problem in item.problems.filter(
        status__in=[ProblemStatus.INVESTIGATING, ProblemStatus.KNOWN_ERROR]
    ):
        problem = problem_services.problem_resolve(
            problem=problem,
            actor=None,  # a consequence of the go-live, done by Tandem
            resolution_notes=f"Fixed by {item.key}, live in {release}.",
            comment=f"Known error retired: {release} went live ({actor}).",
        )
        requesters = sorted(
            {
                i.requester.email
                for i in problem.incidents.select_related("requester")
                if i.requester.email
            }
        )
        outbox_email(
            event="problem.fix_live",
            recipients=requesters,
            # Requesters never saw the problem's (internal) title: core.visibility.
            subject=f"The fix for a known issue is live in {release}",
            body=f"The problem behind your incident is fixed in {release}.",
            target=problem,
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


def release_go_live(*, release: Release, actor: AbstractBaseUser, comment: str = "") -> Release:
    """Take the release live through the gate (Release or Change Manager).

    The evaluation is kept whether it opens or not. Going live moves the deploying change
    to review (implemented), marks the fixed work items released, writes "fix is live" on
    each linked incident and tells its requester, and publishes the release notes.
    """
    from projects.gate import gate_evaluate

    if not _can_go_live(actor, release):
        raise ActionForbidden("Release Managers and Change Managers take releases live.")
    with transaction.atomic():
        r = lock(release)
        if r.status != "awaiting_go_live":
            raise IllegalTransition(
                f"{r} is {r.get_status_display().lower()}; only a release "
                "awaiting go-live can go live."
            )
        allowed, checks = gate_evaluate(r, actor, "go_live")
        if allowed:
            live = _go_live(r, actor, comment)
    if not allowed:  # raised after commit, so the refused evaluation is kept
        failing = " ".join(f"[{c.label}] {c.reason}" for c in checks if not c.passed)
        raise IllegalTransition(f"The go-live gate is closed. {failing}")
    return live


def _go_live(release: Release, actor: AbstractBaseUser, comment: str) -> Release:
    from itsm.models import ChangeStatus
    from itsm.services import changes as change_services

    with transitioning(release, actor, "go_live", ensure=_ensure_release, comment=comment) as live:
        live.went_live_at = timezone.now()
    change = live.change
    if change is not None and change.status == ChangeStatus.SCHEDULED:
        change = change_services.change_implement(
            change=change, actor=actor, comment=f"{live} is going live."
        )
        change_services.change_complete(change=change, actor=actor, comment=f"{live} is live.")
    for item in live.fixed_items.filter(status=WorkItemStatus.FIXED):
        _retire_known_errors(item, live, actor)
        with transitioning(item, actor, "release", ensure=_system, comment=f"Live in {live}.") as w:
            for inc in w.incidents.all():
                record(inc, actor, "fix_released", comment=f"The fix ({w.key}) is live in {live}.")
                outbox_email(
                    event="incident.fix_live",
                    recipients=[inc.requester.email],
                    subject=f"[{inc.key}] The fix is live: {inc.title}",
                    body=f"The fix for your incident {inc.key} went live today in "
                    f"{live.project} {live.version}.\n\n{ticket_link(inc)}",
                    target=inc,
                )
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


def release_roll_back(*, release: Release, actor: AbstractBaseUser, reason: str) -> Release:
    """Roll a live release back: its released items reopen and their incidents hear it."""
    require(reason and reason.strip(), "reason", "Say why the release is rolled back.")
    if not _can_go_live(actor, release):
        raise ActionForbidden("Release Managers and Change Managers roll releases back.")
    with transaction.atomic():
        with transitioning(
            release, actor, "roll_back", ensure=_ensure_release, comment=reason
        ) as r:
            pass
        for item in r.fixed_items.filter(status=WorkItemStatus.RELEASED):
            with transitioning(
                item, actor, "reopen", ensure=_system, comment=f"{r} was rolled back: {reason}"
            ) as w:
                for inc in w.incidents.all():
                    record(
                        inc,
                        actor,
                        "fix_rolled_back",
                        comment=f"{r} was rolled back; {w.key} is being reworked.",
                    )
                    outbox_email(
                        event="incident.fix_rolled_back",
                        recipients=[inc.requester.email],
                        subject=f"[{inc.key}] The fix was withdrawn: {inc.title}",
                        body=f"{r} was rolled back. We are on it.\n\n{ticket_link(inc)}",
                        target=inc,
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
    """Record that an emergency change takes developers from a project: the Change
    Manager (the actor) and the Project Manager agreed, and the release moves by
    ``slip_days``. Written on both the change and the release; both managers and the team
    are told."""
    from datetime import timedelta

    from core.roles import Role, has_role
    from itsm.models import ChangeType
    from itsm.permissions import is_change_manager
    from projects.models import EmergencyDecision

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
    if not 0 <= int(slip_days) <= 365:
        raise ValidationFailed("Slip is 0 to 365 days.", field="slip_days")
    with transaction.atomic():
        r = lock(release)
        if r.status in ("live", "rolled_back", "cancelled"):
            raise IllegalTransition(f"{r} is {r.get_status_display().lower()}.")
        decision = EmergencyDecision.objects.create(
            change=change,
            release=r,
            change_manager=actor,
            project_manager=project_manager,
            developer=developer,
            slip_days=slip_days,
            note=note,
        )
        before = snapshot(r)
        if slip_days and r.planned_date:
            r.original_planned_date = r.original_planned_date or r.planned_date
            r.planned_date = r.planned_date + timedelta(days=int(slip_days))
            r.save()
        text = (
            f"Emergency {change.key} agreed by {actor} (Change Manager) and "
            f"{project_manager} (Project Manager)"
            + (f", taking {developer}" if developer else "")
            + f": {r} moves {slip_days} day(s)"
            + (f" to {r.planned_date:%d %b %Y}" if r.planned_date else "")
            + (f". {note}" if note else ".")
        )
        record(r, actor, "emergency_decision", before=before, comment=text)
        record(change, actor, "emergency_decision", comment=text)
        outbox_email(
            event="release.emergency_slip",
            recipients=[project_manager.email, *team_recipients(r.project.team)],
            subject=f"{r}: emergency {change.key} moves the release {slip_days} day(s)",
            body=text,
            target=r,
        )
    return decision
