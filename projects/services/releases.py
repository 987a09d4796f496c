"""Releases: planning, moving items out, and release control (UAT sign-off, the go-live
through the gate, rollback that undoes what the go-live did, release notes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core import events
from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.services import moment_now, outbox_email, team_recipients
from core.validation import ensure_date_near, ensure_lengths
from itsm.models import Change, Incident
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
    transitioning,
)
from projects import permissions
from projects.models import Project, Release, WorkItem, WorkItemStatus
from projects.services.common import (
    _check_release,
    _problem_requesters,
    _support_recipients,
    _system,
)
from projects.services.links import _retire_known_errors


def release_create(
    *,
    actor: AbstractBaseUser,
    project: Project,
    version: str,
    name: str = "",
    planned_date: date | None = None,
    change: Change | None = None,
    notes: str = "",
    description: str = "",
) -> Release:
    """Plan a new release of ``project`` (``can_plan_releases``: Release and Change
    Managers, the project's Project Manager and team lead, administrators and Project
    Managers). Preconditions: the project is not archived, the version is new in the
    project, the deploying change is open and touches one of its services.
    Audit: ``created`` with the fields set."""
    from projects.services.projects import ensure_project_active

    if not permissions.can_plan_releases(actor, project):
        raise ActionForbidden(RELEASE_PLANNERS)
    ensure_project_active(project, "new releases")
    require(version and version.strip(), "version", "A version is required.")
    ensure_lengths(
        Release,
        {
            "version": version.strip(),
            "name": name or "",
            "notes": notes or "",
            "description": description or "",
        },
    )
    ensure_date_near(planned_date, "planned_date")
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
            description=description,
        )
        record(release, actor, "created", to_state=release.status, changes=created_changes(release))
    return release


RELEASE_PLANNERS = (
    "Release Managers, Change Managers, the project's Project Manager and team lead plan "
    "its releases."
)
# What an edit may change, and what stays editable once the release is live, rolled back
# or cancelled: its text (what it was about, the notes' highlights); version, date and
# deploying change are then its record.
RELEASE_EDITABLE = ("version", "name", "planned_date", "description", "change", "notes")
RELEASE_EDITABLE_WHEN_CLOSED = ("description", "notes")
RELEASE_CLOSED_STATES = ("live", "rolled_back", "cancelled")
# Set by the lifecycle (transitions, UAT sign-off, go-live, rollback, emergency slips).
RELEASE_LIFECYCLE_FIELDS = (
    "status",
    "went_live_at",
    "rolled_back_at",
    "uat_signed_off_by",
    "uat_signed_off_at",
    "original_planned_date",
    "slip_days",
    "go_live_record",
)


def _subtract_working_days(end: date, days: int, calendar: Any) -> date:
    """The date ``days`` working days before ``end`` (the inverse of add_working_days)."""
    from datetime import timedelta

    from projects.working_days import working_days_between

    # The earliest day still ``days`` working days before ``end``: a working day (the
    # Friday, not the weekend, before a Monday-to-Wednesday slip). Never before the
    # calendar's first day: ``date.min - 1 day`` is an OverflowError (a 500).
    day = end
    for _ in range(days * 7 + 400):
        if day <= date.min + timedelta(days=1):
            break
        if working_days_between(day - timedelta(days=1), end, calendar) > days:
            break
        day -= timedelta(days=1)
    return day


def release_update(*, release: Release, actor: AbstractBaseUser, **fields: Any) -> Release:
    """Edit a release's planning fields (``RELEASE_EDITABLE``).

    Preconditions: ``can_edit_release``; the lifecycle's fields (status, go-live and
    rollback times, UAT sign-off, the slip, the go-live record) are refused with a 400;
    once live, rolled back or cancelled only the description and the notes intro change;
    the version stays unique in the project; a deploying change follows
    ``release_set_change``'s rules (open, on one of the project's services).
    A new planned date while an emergency slip is recorded keeps the slip: the baseline
    (``original_planned_date``) moves with the re-plan, so ``slip_days`` still says how
    far emergency work moved it; no planned date clears the slip.
    Audit: one ``updated`` row with the changed fields (none when nothing changed)."""
    lifecycle = sorted(f for f in fields if f in RELEASE_LIFECYCLE_FIELDS)
    if lifecycle:
        raise ValidationFailed(
            f"{', '.join(lifecycle)}: set by the release's lifecycle (its transitions, "
            "UAT sign-off, go-live, rollback and emergency decisions), never edited.",
            errors={f: ["Set by the release's lifecycle."] for f in lifecycle},
        )
    ensure_editable(fields, RELEASE_EDITABLE)
    ensure_lengths(
        Release, {k: (v or "").strip() if k == "version" else v for k, v in fields.items()}
    )
    if "planned_date" in fields and fields["planned_date"] != release.planned_date:
        # only a new date: an edit of the text keeps whatever date the release had
        ensure_date_near(fields["planned_date"], "planned_date")
    with transaction.atomic():
        r = lock(release)
        if not permissions.can_edit_release(actor, r):
            raise ActionForbidden(RELEASE_PLANNERS)
        if r.status in RELEASE_CLOSED_STATES:
            frozen = sorted(
                f
                for f, v in fields.items()
                if f not in RELEASE_EDITABLE_WHEN_CLOSED and getattr(r, f) != v
            )
            if frozen:
                raise IllegalTransition(
                    f"{r} is {r.get_status_display().lower()}: its {', '.join(frozen)} "
                    "are its record; only the description and the notes intro change."
                )
        if "version" in fields:
            version = (fields["version"] or "").strip()
            require(version, "version", "A version is required.")
            clash = Release.objects.filter(project=r.project_id, version=version).exclude(pk=r.pk)
            if clash.exists():
                raise ValidationFailed(
                    f"{r.project.code} {version} exists already.", field="version"
                )
            fields["version"] = version
        if fields.get("change") is not None and fields["change"].pk != r.change_id:
            _check_deploying_change(r.project, fields["change"])
        before = snapshot(r)
        for name in ("name", "description", "notes"):
            if name in fields:
                fields[name] = fields[name] or ""
        if "planned_date" in fields and fields["planned_date"] != r.planned_date:
            new = fields["planned_date"]
            if new is None:
                r.original_planned_date = None
            elif r.original_planned_date and r.planned_date:
                r.original_planned_date = _subtract_working_days(
                    new, r.slip_days, r.project.calendar
                )
        for name, value in fields.items():
            setattr(r, name, value)
        changes = diff(r, before)
        if not changes:
            return r
        save(r)
        record(r, actor, "updated", changes=changes)
    return r


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


def _tell_requester(
    inc: Incident, actor: Actor, *, action: str, event: str, note: str, subject: str, body: str
) -> None:
    """What a release did to an incident: a row in its history, which the requester reads
    (so it names no internal record: core.visibility), and the same news by e-mail with a
    link to the incident."""
    record(inc, actor, action, comment=note)
    outbox_email(
        event=event,
        recipients=[inc.requester.email],
        subject=f"[{inc.key}] {subject}: {inc.title}",
        body=f"{body}\n\n{ticket_link(inc)}",
        target=inc,
    )


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
        r.uat_signed_off_by, r.uat_signed_off_at = actor, moment_now()
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
        live.went_live_at = moment_now()
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
                _tell_requester(
                    inc,
                    actor,
                    action="fix_released",
                    event="incident.fix_live",
                    note=f"The fix is live in {live}.",
                    subject="The fix is live",
                    body=f"The fix for your incident {inc.key} went live today in "
                    f"{live.project} {live.version}.",
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
            r.rolled_back_at = moment_now()
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
                    _tell_requester(
                        inc,
                        actor,
                        action="fix_rolled_back",
                        event="incident.fix_rolled_back",
                        note=f"{r} was rolled back; the fix is being reworked.",
                        subject="The fix was withdrawn",
                        body=f"{r} was rolled back, so the fix for {inc.key} is not live any "
                        "more. We are working on it.",
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
            published = problem.workaround_published and problem.workaround
            outbox_email(
                event="problem.fix_withdrawn",
                recipients=_problem_requesters(problem),
                # Requesters never saw the problem's (internal) title, nor a workaround
                # not published to them: core.visibility.
                subject=f"The fix for a known issue was withdrawn: {r} was rolled back",
                body=f"{r} was rolled back: the problem behind your incident is not fixed "
                f"yet.{' Workaround: ' + problem.workaround if published else ''}",
                target=problem,
            )
        for inc in release_suspect_incidents(r).exclude(pk__in=told).exclude(status="cancelled"):
            _tell_requester(
                inc,
                actor,
                action="release_rolled_back",
                event="incident.release_rolled_back",
                note=f"{r}, which went live shortly before this incident, was rolled back.",
                subject=f"{r} was rolled back",
                body=f"The release that went live on {inc.service} shortly before you raised "
                f"{inc.key} was rolled back. If it caused your problem, it should be gone; "
                "tell us if it is not.",
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
