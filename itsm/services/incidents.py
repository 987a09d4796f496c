"""The only write path for incidents.

Every function here is one action: in one transaction it locks the incident, checks the
actor may act, fires the django-fsm transition, saves, writes one audit row and queues
its notices in the outbox. ``actor=None`` means Tandem itself (a periodic task).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core import events, refcache
from core.exceptions import ActionForbidden, ConflictError, IllegalTransition, ValidationFailed
from core.models import Comment, Service, Team, Tier
from core.retire import ensure_not_retired
from core.services import (
    audit_record,
    comment_create,
    moment_now,
    outbox_email,
    sequence_next,
    team_recipients,
)
from itsm import permissions
from itsm.models import HoldReason, Incident, IncidentStatus, Level, ResolutionCode
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
from itsm.services.satisfaction import satisfaction_ask, satisfaction_email_text
from sla.services import clocks_sync

User = get_user_model()

# Fields an agent may change outside a transition (PATCH).
EDITABLE_FIELDS = (
    "title",
    "description",
    "service",
    "category",
    "impact",
    "urgency",
    "major_incident",
)


# --- helpers ------------------------------------------------------------------------------
_link = ticket_link
_lock = lock
_require = require
_choice = choice
_save = save


def _mark_responded(incident: Incident) -> None:
    """The first agent action (assignment to a person, start, first public reply)."""
    if incident.responded_at is None:
        incident.responded_at = moment_now()


def _default_intake_team() -> Team | None:
    """The service desk: the single point of contact where new incidents land. Kept per
    process until a team changes (``core.refcache``); each caller gets its own copy."""
    team = refcache.cached(
        "intake_team",
        # a retired desk takes no new incidents (core.retire)
        lambda: Team.objects.filter(tier=Tier.SERVICE_DESK, is_active=True).order_by("id").first(),
    )
    return copy.copy(team)


def _transitioning(
    incident: Incident, actor: Actor, name: str, comment: str = "", via_problem: Any = None
) -> AbstractContextManager[Incident]:
    """``via_problem``: the step is taken in the name of that resolved problem (see
    ``problem_resolve_incidents``), so its Problem Manager may take it in any queue."""
    ensure = (
        permissions.ensure_can_fire
        if via_problem is None
        else permissions.ensure_can_fire_via_problem(via_problem)
    )
    return transitioning(incident, actor, name, ensure=ensure, comment=comment)


def _check_assignee(team: Team | None, assignee: AbstractBaseUser | None) -> None:
    if assignee is None:
        return
    if not assignee.is_active:
        raise ValidationFailed(f"{assignee} is not an active user.", field="assignee")
    if not _may_hold(team, assignee):
        raise ValidationFailed(f"{assignee} is not a member of {team}.", field="assignee")


def _may_hold(team: Team | None, person: AbstractBaseUser) -> bool:
    """Whether ``person`` may be the assignee of an incident in ``team``'s queue."""
    return team is None or team.members.filter(pk=person.pk).exists()


def _notify_assignment(
    incident: Incident, event: str, note: str = "", headline: str = "assigned to {who}"
) -> None:
    """Tell the assignee, or the team's queue when nobody holds the incident."""
    recipients = [incident.assignee.email] if incident.assignee else team_recipients(incident.team)
    who = "you" if incident.assignee else f"the {incident.team} queue"
    outbox_email(
        event=event,
        recipients=recipients,
        subject=f"[{incident.key}] P{incident.priority} {headline.format(who=who)}: "
        f"{incident.title}",
        body=(
            f"{incident.key} ({incident.service}, priority P{incident.priority}) is now with "
            f"{who}.\n{note}\n\n{incident.description}\n\n{_link(incident)}"
        ),
        target=incident,
    )


def _tell_lead_nobody_holds(incident: Incident, reason: str) -> None:
    """An escalated incident lands in a queue with nobody on it: the team's lead hears it,
    so it is not left an orphan (taking it, or starting its defect, assigns someone)."""
    lead = incident.team.lead if incident.team else None
    if incident.assignee_id is not None or lead is None or not lead.email:
        return
    outbox_email(
        event="incident.unassigned_lead",
        recipients=[lead.email],
        subject=f"[{incident.key}] P{incident.priority} in {incident.team}'s queue with nobody "
        f"on it: {incident.title}",
        body=f"{incident.key} was escalated to {incident.team} (tier {incident.tier}) and "
        f"nobody holds it yet. Please assign it.\nEscalation: {reason}\n\n{_link(incident)}",
        target=incident,
    )


# --- create and edit ----------------------------------------------------------------------
def incident_create(
    *,
    actor: AbstractBaseUser,
    title: str,
    service: Service,
    description: str = "",
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    category: str = "software",
    requester: AbstractBaseUser | None = None,
    major_incident: bool = False,
) -> Incident:
    """Raise an incident. It lands, status ``new`` and tier 1, in the service desk queue.

    A requester raises for themselves; an agent may raise on behalf of a caller.
    Audit: ``created``. Outbox: an acknowledgement to the requester. SLA: the clocks of
    its policy start (``sla_clocks_started`` on the returned incident lists them, so a
    caller that presents the new incident need not read them back).
    """
    _require(title and title.strip(), "title", "A title is required.")
    _choice(impact, Level, "impact")
    _choice(urgency, Level, "urgency")
    requester = requester or actor
    if requester.pk != actor.pk and not permissions.can_log_for_others(actor):
        raise ActionForbidden("Only service desk staff may raise incidents for someone else.")
    if major_incident and not permissions.can_log_for_others(actor):
        raise ActionForbidden("Only service desk staff may declare a major incident.")
    if not service.is_active:
        raise ValidationFailed(f"{service} is retired.", field="service")
    with transaction.atomic():
        incident = Incident(
            number=sequence_next("incident"),
            title=title.strip(),
            description=description,
            requester=requester,
            service=service,
            impact=impact,
            urgency=urgency,
            category=category,
            major_incident=major_incident,
            team=_default_intake_team(),
            tier=Tier.SERVICE_DESK,
        )
        incident.save()
        audit = audit_record(
            target=incident,
            actor=actor,
            action="created",
            to_state=incident.status,
            changes=created_changes(incident),
        )
        # what ``record`` does, told that the incident is new: it has no clocks to lock
        incident.sla_clocks_started = clocks_sync(  # type: ignore[attr-defined]
            ticket=incident, audit=audit, new_ticket=True
        )
        outbox_email(
            event="incident.created",
            recipients=[requester.email],
            subject=f"[{incident.key}] We have received your incident: {incident.title}",
            body=(
                f"Your incident {incident.key} was logged with priority P{incident.priority}. "
                f"The service desk will pick it up.\n\n{_link(incident)}"
            ),
            target=incident,
        )
        # Higher apps react in this transaction (projects: a release in hypercare).
        events.publish(events.INCIDENT_CREATED, incident=incident, actor=actor)
    return incident


def incident_update(*, incident: Incident, actor: AbstractBaseUser, **fields: Any) -> Incident:
    """Change editable fields (title, description, service, category, impact, urgency,
    major incident). Priority follows impact × urgency. Audit: ``updated`` with the changes."""
    ensure_editable(fields, EDITABLE_FIELDS)
    if "impact" in fields:
        _choice(fields["impact"], Level, "impact")
    if "urgency" in fields:
        _choice(fields["urgency"], Level, "urgency")
    if "title" in fields:
        _require(fields["title"] and fields["title"].strip(), "title", "A title is required.")
    with transaction.atomic():
        locked = _lock(incident)
        if not permissions.can_edit_incident(actor, locked):
            raise ActionForbidden(f"You may not edit {locked.key}.")
        if not locked.is_open:
            raise IllegalTransition(
                f"{locked.key} is {locked.get_status_display().lower()}; reopen it to edit."
            )
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        _save(locked)
        changes = diff(locked, before)
        if changes:
            record(locked, actor, "updated", changes=changes)
    return locked


# --- transitions --------------------------------------------------------------------------
def incident_assign(
    *,
    incident: Incident,
    actor: Actor,
    team: Team | None = None,
    assignee: AbstractBaseUser | None = None,
    comment: str = "",
    via_problem: Any = None,
) -> Incident:
    """Assign to a team and/or a person (new/assigned → assigned). The assignee must be a
    member of the resulting team; the tier follows the team's tier.
    Outbox: the assignee (or the team when no person) is told."""
    if team is None and assignee is None:
        raise ValidationFailed("Give a team, an assignee or both.", field="team")
    with _transitioning(incident, actor, "assign", comment, via_problem) as inc:
        target_team = team or inc.team
        # a retired team takes no new work; the one it is with now may stay (core.retire)
        ensure_not_retired(target_team, field="team", current=inc.team_id)
        _check_assignee(target_team, assignee)
        changed_team = target_team is not None and target_team.pk != inc.team_id
        inc.team = target_team
        if target_team is not None:
            inc.tier = target_team.tier
        if assignee is not None:
            inc.assignee = assignee
            _mark_responded(inc)
        elif changed_team:
            inc.assignee = None  # a new queue: whoever held it in the old one lets go
        _notify_assignment(inc, "incident.assigned", comment)
    return inc


def incident_take(*, incident: Incident, actor: AbstractBaseUser) -> Incident:
    """*Assign to me* in one step: the actor, a member of the incident's team, becomes its
    assignee (``permissions.can_take``). The same as ``incident_assign`` to oneself: audit
    ``assign``, the response clock answered, the notice."""
    with transaction.atomic():
        fresh = Incident.objects.select_for_update().get(pk=incident.pk)
        if not permissions.can_take(actor, fresh):
            if fresh.assignee_id == actor.pk:
                raise ConflictError(f"{fresh.key} is yours already.")
            raise ActionForbidden(
                f"Only a member of {fresh.team or 'its team'} may take {fresh.key} while it "
                f"is {fresh.get_status_display().lower()}."
            )
        return incident_assign(incident=fresh, actor=actor, assignee=actor)


def incident_start(
    *, incident: Incident, actor: Actor, comment: str = "", via_problem: Any = None
) -> Incident:
    """Start work (assigned → in_progress); with no assignee, the actor takes it when they
    may hold it (a member of its team, as ``incident_assign`` requires): a manager working
    it from outside the team (an Incident Manager, a Problem Manager in a problem's name)
    leaves it in the team's queue."""
    with _transitioning(incident, actor, "start", comment, via_problem) as inc:
        if inc.assignee_id is None and actor is not None and _may_hold(inc.team, actor):
            inc.assignee = actor
        _mark_responded(inc)
    return inc


def incident_hold(*, incident: Incident, actor: Actor, reason: str, comment: str = "") -> Incident:
    """Put on hold (in_progress → on_hold) awaiting the requester, a vendor or a change."""
    _require(reason, "reason", "Say what the incident is waiting for.")
    _choice(reason, HoldReason, "reason")
    with _transitioning(incident, actor, "hold", comment) as inc:
        inc.hold_reason = reason
        if reason == HoldReason.AWAITING_REQUESTER:
            outbox_email(
                event="incident.awaiting_requester",
                recipients=[inc.requester.email],
                subject=f"[{inc.key}] We need your reply: {inc.title}",
                body=f"We are waiting for information from you.\n\n{comment}\n\n{_link(inc)}",
                target=inc,
            )
    return inc


def incident_resume(
    *, incident: Incident, actor: Actor, comment: str = "", via_problem: Any = None
) -> Incident:
    """Resume work (on_hold → in_progress)."""
    with _transitioning(incident, actor, "resume", comment, via_problem) as inc:
        inc.hold_reason = ""
    return inc


def incident_escalate(
    *,
    incident: Incident,
    actor: Actor,
    reason: str,
    team: Team | None = None,
    tier: int | None = None,
) -> Incident:
    """Move the incident to a higher support tier's queue, status ``assigned``: the next
    tier (1 → 2 → 3) unless ``tier`` names a higher one (a P1 straight to development).

    The target is the service's team for that tier (2nd line: its support team; 3rd line:
    the development team that owns it) unless another team of that tier is named.
    Outbox: the new team is told.
    """
    _require(reason and reason.strip(), "reason", "Say why the incident is escalated.")
    with _transitioning(incident, actor, "escalate", reason) as inc:
        next_tier = tier or inc.tier + 1
        if not inc.tier < next_tier <= Tier.DEVELOPMENT:
            raise ValidationFailed(
                f"Escalation goes up from tier {inc.tier}, to tier 3 at most.", field="tier"
            )
        target = team or inc.service.team_for_tier(next_tier)
        if target is None:
            raise ValidationFailed(
                f"{inc.service} has no tier-{next_tier} team; name one.", field="team"
            )
        if target.tier != next_tier:
            raise ValidationFailed(f"{target} is not a tier-{next_tier} team.", field="team")
        ensure_not_retired(target, field="team")  # the service's own team too: name another
        inc.team, inc.tier, inc.assignee = target, next_tier, None
        inc.hold_reason = ""
        _notify_assignment(inc, "incident.escalated", f"Escalated: {reason}", "escalated to {who}")
        _tell_lead_nobody_holds(inc, reason)
    return inc


def incident_resolve(
    *,
    incident: Incident,
    actor: Actor,
    resolution_code: str,
    resolution_notes: str,
    comment: str = "",
    via_problem: Any = None,
) -> Incident:
    """Resolve (in_progress or assigned → resolved). From assigned, the implied start is
    fired first through ``incident_start`` (its own audit row, the response clock) in the
    same transaction. Outbox: the requester is asked to confirm. A major incident's open
    children are resolved with it, each through this service (``children_resolve``)."""
    _require(resolution_code, "resolution_code", "A resolution code is required.")
    _choice(resolution_code, ResolutionCode, "resolution_code")
    _require(
        resolution_notes and resolution_notes.strip(),
        "resolution_notes",
        "Resolution notes are required.",
    )
    with transaction.atomic():
        if Incident.objects.filter(pk=incident.pk, status=IncidentStatus.ASSIGNED).exists():
            # Resolved straight from assigned: the start it implies is recorded first, by
            # the start service itself (its audit row, the response clock, the assignee).
            incident = incident_start(
                incident=incident,
                actor=actor,
                comment="Started on resolving",
                via_problem=via_problem,
            )
        resolved = _resolve(
            incident, actor, resolution_code, resolution_notes, comment, via_problem
        )
        # A major incident's open children follow its resolution (incident_links); asked
        # of every incident, so children un-declaring the parent left are not stranded.
        from itsm.services.incident_links import children_resolve

        children_resolve(parent=resolved, actor=actor)
        return resolved


def _resolve(
    incident: Incident,
    actor: Actor,
    resolution_code: str,
    resolution_notes: str,
    comment: str,
    via_problem: Any,
) -> Incident:
    with _transitioning(incident, actor, "resolve", comment, via_problem) as inc:
        inc.resolution_code, inc.resolution_notes = resolution_code, resolution_notes.strip()
        inc.resolved_at = moment_now()
        question = satisfaction_ask(ticket=inc, actor=actor)  # asked once per resolution
        outbox_email(
            event="incident.resolved",
            recipients=[inc.requester.email],
            subject=f"[{inc.key}] Resolved: {inc.title}",
            body=(
                f"{inc.get_resolution_code_display()}.\n\n{inc.resolution_notes}\n\n"
                f"Please confirm, or reopen it if the problem is still there. It closes by "
                f"itself after {settings.INCIDENT_AUTO_CLOSE_DAYS} days.\n\n{_link(inc)}\n\n"
                f"{satisfaction_email_text(question)}"
            ),
            target=inc,
        )
    return inc


def incident_reopen(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Reopen (resolved → in_progress), by the requester or an agent.
    Outbox: the assignee (or team) is told."""
    _require(reason and reason.strip(), "reason", "Say why the incident is reopened.")
    with _transitioning(incident, actor, "reopen", reason) as inc:
        inc.resolved_at = None
        inc.resolution_code, inc.resolution_notes = "", ""
        inc.reopen_count += 1
        _notify_assignment(inc, "incident.reopened", f"Reopened: {reason}", "reopened")
    return inc


def incident_close(*, incident: Incident, actor: Actor, comment: str = "") -> Incident:
    """Close (resolved → closed): the requester confirms, or Tandem after the grace period."""
    with _transitioning(incident, actor, "close", comment) as inc:
        inc.closed_at = moment_now()
    return inc


def incident_cancel(*, incident: Incident, actor: Actor, comment: str = "") -> Incident:
    """Cancel (new/assigned → cancelled): raised by mistake or no longer needed."""
    with _transitioning(incident, actor, "cancel", comment) as inc:
        inc.closed_at = moment_now()
    return inc


TRANSITION_SERVICES: dict[str, Callable[..., Incident]] = {
    "assign": incident_assign,
    "start": incident_start,
    "hold": incident_hold,
    "resume": incident_resume,
    "escalate": incident_escalate,
    "resolve": incident_resolve,
    "reopen": incident_reopen,
    "close": incident_close,
    "cancel": incident_cancel,
}


# --- comments -----------------------------------------------------------------------------
def incident_comment(
    *, incident: Incident, actor: AbstractBaseUser, body: str, public: bool = True
) -> Comment:
    """Add a public reply or an internal work note.

    Who may reply or note is who may work the incident (``permissions.can_reply_incident``
    / ``can_note_incident``: its team, its assignee, an Incident Manager; the requester
    replies publicly on their own). The first public reply by someone working it counts
    as the response. A requester's reply to an incident waiting on them resumes it (as
    JSM's "waiting for customer" does).
    Outbox: a public reply by staff goes to the requester; the requester's to the assignee.
    """
    _require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = _lock(incident)
        if public and not permissions.can_reply_incident(actor, locked):
            raise ActionForbidden(
                f"Only those working {locked.key} (its team, its assignee, an Incident "
                "Manager) or its requester may reply on it."
            )
        if not public and not permissions.can_note_incident(actor, locked):
            raise ActionForbidden(
                f"Only those working {locked.key} (its team, its assignee, an Incident "
                "Manager) may write internal notes on it."
            )
        comment = comment_create(target=locked, author=actor, body=body.strip(), public=public)
        by_requester = actor.pk == locked.requester_id
        if public and not by_requester:
            if (
                locked.responded_at is None
                and locked.is_open
                and permissions.can_work_incident(actor, locked)
            ):
                locked.responded_at = moment_now()
                _save(locked)
                record(
                    locked,
                    actor,
                    "responded",
                    comment="First public reply.",
                    changes={"responded_at": (None, locked.responded_at)},
                )
            outbox_email(
                event="incident.reply",
                recipients=[locked.requester.email],
                subject=f"[{locked.key}] New reply: {locked.title}",
                body=f"{actor} wrote:\n\n{comment.body}\n\n{_link(locked)}",
                target=locked,
            )
        elif by_requester:
            outbox_email(
                event="incident.requester_reply",
                recipients=[locked.assignee.email]
                if locked.assignee
                else team_recipients(locked.team),
                subject=f"[{locked.key}] The requester replied: {locked.title}",
                body=f"{actor} wrote:\n\n{comment.body}\n\n{_link(locked)}",
                target=locked,
            )
        if (
            by_requester
            and locked.status == IncidentStatus.ON_HOLD
            and locked.hold_reason == HoldReason.AWAITING_REQUESTER
        ):
            incident_resume(incident=locked, actor=None, comment="The requester replied.")
    return comment


# --- periodic work ------------------------------------------------------------------------
def incident_close_resolved(*, now: Any = None, limit: int = 500) -> int:
    """Close incidents resolved more than INCIDENT_AUTO_CLOSE_DAYS ago that the requester
    neither confirmed nor reopened. Each closes in its own transaction as Tandem."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.INCIDENT_AUTO_CLOSE_DAYS)
    ids = list(
        Incident.objects.filter(status=IncidentStatus.RESOLVED, resolved_at__lte=cutoff)
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:limit]
    )
    closed = 0
    for pk in ids:
        try:
            incident_close(
                incident=Incident(pk=pk),
                actor=None,
                comment=f"Closed automatically {settings.INCIDENT_AUTO_CLOSE_DAYS} days "
                "after resolution.",
            )
            closed += 1
        except IllegalTransition:
            continue  # reopened or closed meanwhile
    return closed
