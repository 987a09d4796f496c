"""The only write path for problems: one function per action, one transaction each,
audited on the problem and, where incidents are touched, on each incident too."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core import events
from core.exceptions import ActionForbidden, DomainError, IllegalTransition, ValidationFailed
from core.models import Comment, Service, Team
from core.retire import ensure_not_retired
from core.services import comment_create, moment_now, outbox_email, sequence_next, team_recipients
from itsm import permissions
from itsm.models import Incident, IncidentStatus, Level, Problem, ProblemStatus
from itsm.services import incidents as incident_services
from itsm.services.common import (
    Actor,
    choice,
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

EDITABLE_FIELDS = (
    "title",
    "description",
    "service",
    "category",
    "impact",
    "urgency",
    "assignee",
    "team",
    "root_cause",
    "workaround",
    "fix_description",
    "fix_change",
)


def _transitioning(
    problem: Problem, actor: Actor, name: str, comment: str = ""
) -> AbstractContextManager[Problem]:
    return transitioning(
        problem, actor, name, ensure=permissions.ensure_can_fire_problem, comment=comment
    )


def _open_incidents(problem: Problem) -> list[Incident]:
    return list(
        problem.incidents.filter(
            status__in=[
                IncidentStatus.NEW,
                IncidentStatus.ASSIGNED,
                IncidentStatus.IN_PROGRESS,
                IncidentStatus.ON_HOLD,
            ]
        ).select_related("assignee", "team")
    )


def _incident_watchers(incidents: Iterable[Incident]) -> list[str]:
    """The agents working the incidents: the assignee, else the team's queue."""
    out: set[str] = set()
    for inc in incidents:
        out.update(
            [inc.assignee.email]
            if inc.assignee and inc.assignee.email
            else team_recipients(inc.team)
        )
    return sorted(out)


def _check_staff(actor: AbstractBaseUser) -> None:
    if not permissions.can_view_problem(actor):
        raise ActionForbidden("Problems are for support and development staff.")


# --- create, edit, link -------------------------------------------------------------------
def problem_create(
    *,
    actor: AbstractBaseUser,
    title: str,
    service: Service,
    description: str = "",
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    category: str = "software",
    assignee: AbstractBaseUser | None = None,
    team: Team | None = None,
    incidents: Iterable[Incident] = (),
) -> Problem:
    """Raise a problem, from nothing or from one or several incidents (linked at once).

    Any support or development staff member may raise one. Audit: ``created`` on the
    problem and ``linked_to_problem`` on each incident.
    """
    _check_staff(actor)
    require(title and title.strip(), "title", "A title is required.")
    choice(impact, Level, "impact")
    choice(urgency, Level, "urgency")
    ensure_not_retired(team, field="team")
    with transaction.atomic():
        problem = Problem(
            number=sequence_next("problem"),
            title=title.strip(),
            description=description,
            service=service,
            impact=impact,
            urgency=urgency,
            category=category,
            created_by=actor,
            assignee=assignee,
            team=team,
        )
        problem.save()
        record(problem, actor, "created", to_state=problem.status, changes=created_changes(problem))
        _link(problem, actor, list(incidents))
    return problem


def problem_update(*, problem: Problem, actor: AbstractBaseUser, **fields: Any) -> Problem:
    """Edit the record: root cause, workaround, permanent fix, assignment and the rest.
    A published workaround that is edited stays published: its incidents show the new
    text, and their agents are told."""
    ensure_editable(fields, EDITABLE_FIELDS)
    for name in ("impact", "urgency"):
        if name in fields:
            choice(fields[name], Level, name)
    with transaction.atomic():
        locked = lock(problem)
        if not permissions.can_manage_problem(actor, locked):
            raise ActionForbidden(f"Only a Problem Manager or its assignee may edit {locked.key}.")
        if "team" in fields:  # a retired team takes no new problem; its own may stay
            ensure_not_retired(fields["team"], field="team", current=locked.team_id)
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        save(locked)
        changes = diff(locked, before)
        if changes:
            record(locked, actor, "updated", changes=changes)
        if "workaround" in changes and locked.workaround_published_at:
            _announce_workaround(locked, actor, "Workaround updated")
    return locked


def _link(problem: Problem, actor: AbstractBaseUser, incidents: list[Incident]) -> list[Incident]:
    linked = []
    for incident in incidents:
        inc = lock(incident)
        if actor is not None and not permissions.can_link_to_problem(actor, inc, problem):
            raise ActionForbidden(
                f"You may not link {inc.key}: it is worked by {inc.team or 'the service desk'}."
            )
        if inc.problem_id == problem.pk:
            continue
        if inc.problem_id is not None:
            raise ValidationFailed(
                f"{inc.key} is already linked to another problem; unlink it there first.",
                field="incidents",
            )
        before = snapshot(inc)
        inc.problem = problem
        save(inc)
        record(inc, actor, "linked_to_problem", before=before, comment=f"Linked to {problem.key}.")
        linked.append(inc)
    if linked:
        record(
            problem,
            actor,
            "incidents_linked",
            comment="Linked " + ", ".join(i.key for i in linked) + ".",
        )
    return linked


def problem_link_incidents(
    *, problem: Problem, actor: AbstractBaseUser, incidents: Iterable[Incident]
) -> list[Incident]:
    """Link incidents to the problem (staff). An incident belongs to one problem at most."""
    _check_staff(actor)
    with transaction.atomic():
        locked = lock(problem)
        if locked.status in (ProblemStatus.CLOSED, ProblemStatus.CANCELLED):
            raise IllegalTransition(f"{locked.key} is {locked.get_status_display().lower()}.")
        return _link(locked, actor, list(incidents))


def problem_unlink_incident(
    *, problem: Problem, actor: AbstractBaseUser, incident: Incident
) -> Incident:
    """Unlink one incident (its Problem Manager or assignee)."""
    with transaction.atomic():
        locked = lock(problem)
        if not permissions.can_manage_problem(actor, locked):
            raise ActionForbidden(
                f"Only a Problem Manager or its assignee may unlink from {locked.key}."
            )
        inc = lock(incident)
        if inc.problem_id != locked.pk:
            raise ValidationFailed(f"{inc.key} is not linked to {locked.key}.", field="incident")
        before = snapshot(inc)
        inc.problem = None
        save(inc)
        record(
            inc,
            actor,
            "unlinked_from_problem",
            before=before,
            comment=f"Unlinked from {locked.key}.",
        )
        record(locked, actor, "incident_unlinked", comment=f"Unlinked {inc.key}.")
    return inc


# --- workaround -------------------------------------------------------------------------------
def _announce_workaround(problem: Problem, actor: Actor, headline: str) -> None:
    incidents = _open_incidents(problem)
    for inc in incidents:
        record(
            inc,
            actor,
            "workaround_published",
            comment=f"{headline}: {problem.workaround}",
        )
    outbox_email(
        event="problem.workaround",
        recipients=_incident_watchers(incidents),
        subject=f"[{problem.key}] {headline}: {problem.title}",
        body=f"A workaround for {problem.key} applies to your incidents "
        f"({', '.join(i.key for i in incidents)}):\n\n{problem.workaround}\n\n"
        f"{ticket_link(problem)}",
        target=problem,
    )
    # The knowledge base keeps a known-error article in step (core.events).
    events.publish(events.WORKAROUND_PUBLISHED, problem=problem, actor=actor)


def problem_publish_workaround(
    *, problem: Problem, actor: AbstractBaseUser, workaround: str | None = None
) -> Problem:
    """Publish the workaround to the linked incidents: each shows it (read from the problem,
    not copied), each gets an audit row, and their agents are told."""
    with transaction.atomic():
        locked = lock(problem)
        if not permissions.can_manage_problem(actor, locked):
            raise ActionForbidden(
                f"Only a Problem Manager or its assignee may publish for {locked.key}."
            )
        if not locked.is_open:
            raise IllegalTransition(f"{locked.key} is {locked.get_status_display().lower()}.")
        before = snapshot(locked)
        if workaround is not None:
            locked.workaround = workaround.strip()
        require(locked.workaround, "workaround", "Write the workaround first.")
        locked.workaround_published_at = moment_now()
        save(locked)
        record(
            locked,
            actor,
            "workaround_published",
            before=before,
            comment="Workaround published to the linked incidents.",
        )
        _announce_workaround(locked, actor, "Workaround available")
    return locked


# --- transitions ------------------------------------------------------------------------------
def problem_investigate(
    *, problem: Problem, actor: Actor, assignee: AbstractBaseUser | None = None, comment: str = ""
) -> Problem:
    """Start the investigation (new → investigating); the actor takes it if nobody has."""
    with _transitioning(problem, actor, "investigate", comment) as p:
        p.assignee = assignee or p.assignee or actor
    return p


def problem_mark_known_error(
    *, problem: Problem, actor: Actor, root_cause: str = "", workaround: str = "", comment: str = ""
) -> Problem:
    """Root cause found and a workaround documented (investigating → known_error)."""
    with _transitioning(problem, actor, "mark_known_error", comment) as p:
        p.root_cause = root_cause.strip() or p.root_cause
        p.workaround = workaround.strip() or p.workaround
        require(p.root_cause, "root_cause", "A known error needs its root cause.")
        require(p.workaround, "workaround", "A known error needs a workaround.")
        p.known_error_at = moment_now()
    return p


def problem_resolve(
    *,
    problem: Problem,
    actor: Actor,
    resolution_notes: str,
    fix_description: str = "",
    comment: str = "",
) -> Problem:
    """The permanent fix is in (investigating/known_error → resolved). The agents of the
    open linked incidents are told, and can resolve them all in one action."""
    require(
        resolution_notes and resolution_notes.strip(),
        "resolution_notes",
        "Say how the problem was resolved.",
    )
    with _transitioning(problem, actor, "resolve", comment) as p:
        p.resolution_notes = resolution_notes.strip()
        p.fix_description = fix_description.strip() or p.fix_description
        p.resolved_at = moment_now()
        incidents = _open_incidents(p)
        outbox_email(
            event="problem.resolved",
            recipients=_incident_watchers(incidents),
            subject=f"[{p.key}] Resolved: {p.title}",
            body=f"{p.key} is resolved: {p.resolution_notes}\n\nYour open incidents "
            f"{', '.join(i.key for i in incidents)} can now be resolved together from "
            f"{ticket_link(p)}",
            target=p,
        )
        # The knowledge base marks the known-error article fixed (core.events).
        events.publish(events.PROBLEM_RESOLVED, problem=p, actor=actor)
    return p


def problem_reopen(*, problem: Problem, actor: Actor, reason: str) -> Problem:
    """The fix did not hold (resolved → investigating). The resolution no longer stands:
    it is cleared (the audit row keeps it), and the knowledge base rewrites the
    known-error article (core.events)."""
    require(reason and reason.strip(), "reason", "Say why the problem is reopened.")
    with _transitioning(problem, actor, "reopen", reason) as p:
        p.resolved_at = None
        p.resolution_notes = ""
        events.publish(events.PROBLEM_REOPENED, problem=p, actor=actor, reason=reason)
    return p


def problem_close(*, problem: Problem, actor: Actor, comment: str = "") -> Problem:
    with _transitioning(problem, actor, "close", comment) as p:
        p.closed_at = moment_now()
    return p


def problem_cancel(*, problem: Problem, actor: Actor, reason: str) -> Problem:
    require(reason and reason.strip(), "reason", "Say why the problem is cancelled.")
    with _transitioning(problem, actor, "cancel", reason) as p:
        p.closed_at = moment_now()
    return p


PROBLEM_TRANSITION_SERVICES: dict[str, Callable[..., Problem]] = {
    "investigate": problem_investigate,
    "mark_known_error": problem_mark_known_error,
    "resolve": problem_resolve,
    "reopen": problem_reopen,
    "close": problem_close,
    "cancel": problem_cancel,
}


# --- resolve the linked incidents together -------------------------------------------------
@dataclass
class BulkResult:
    resolved: list[Incident] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why


def problem_resolve_incidents(
    *, problem: Problem, actor: AbstractBaseUser, resolution_code: str = "fixed"
) -> BulkResult:
    """Resolve the open linked incidents with the problem's resolution, in one
    transaction. The Problem Manager (of the problem's service) and the Incident Manager
    resolve every one, whatever queue holds it; anyone else those they work, the others
    reported and left alone (``permissions.may_resolve_via_problem``). Each incident walks
    its own lifecycle (resume / assign / start / resolve), each step audited on the
    incident naming the problem, and its requester is told. Audit on the problem:
    ``incidents_resolved``."""
    result = BulkResult()
    with transaction.atomic():
        locked = lock(problem)
        if locked.status not in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
            raise IllegalTransition(f"Resolve {locked.key} before its incidents.")
        notes = f"Resolved by problem {locked.key}: {locked.resolution_notes}"
        for inc in _open_incidents(locked):
            if not permissions.may_resolve_via_problem(actor, locked, inc):
                result.skipped[inc.key] = "not in your queues"
                continue
            try:
                with transaction.atomic():
                    _walk_to_resolved(inc, actor, resolution_code, notes, locked)
                result.resolved.append(inc)
            except DomainError as exc:
                result.skipped[inc.key] = exc.message
        record(
            locked,
            actor,
            "incidents_resolved",
            comment=f"Resolved {len(result.resolved)} linked incidents"
            + (f" ({', '.join(i.key for i in result.resolved)})" if result.resolved else "")
            + (f"; skipped {', '.join(result.skipped)}." if result.skipped else "."),
        )
    return result


def _walk_to_resolved(
    inc: Incident, actor: AbstractBaseUser, code: str, notes: str, problem: Problem
) -> None:
    via = f"Via problem {problem.key}."
    if inc.status == IncidentStatus.ON_HOLD:
        inc = incident_services.incident_resume(
            incident=inc, actor=actor, comment=via, via_problem=problem
        )
    if inc.status == IncidentStatus.NEW:
        member = inc.team is not None and inc.team.members.filter(pk=actor.pk).exists()
        inc = incident_services.incident_assign(
            incident=inc,
            actor=actor,
            team=inc.team,
            assignee=actor if member else None,
            comment=via,
            via_problem=problem,
        )
    if inc.status == IncidentStatus.ASSIGNED:
        inc = incident_services.incident_start(
            incident=inc, actor=actor, comment=via, via_problem=problem
        )
    incident_services.incident_resolve(
        incident=inc,
        actor=actor,
        resolution_code=code,
        resolution_notes=notes,
        comment=f"Resolved with problem {problem.key}.",
        via_problem=problem,
    )


# --- comments ------------------------------------------------------------------------------
def problem_comment(
    *, problem: Problem, actor: AbstractBaseUser, body: str, public: bool = False
) -> Comment:
    """A work note on the problem (problems have no requester: every note is internal)."""
    require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = lock(problem)
        if not permissions.can_work_problem(actor, locked):
            raise ActionForbidden(
                f"Only a Problem Manager, its assignee or its team may write on {locked.key}."
            )
        return comment_create(target=locked, author=actor, body=body.strip(), public=False)
