"""The only write path for changes: submit, assess, CAB approval with separation of
duties, scheduling against freeze windows and conflicts, implementation and review."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import Comment, Service
from core.retire import ensure_not_retired
from core.roles import Role, is_staff_member
from core.services import comment_create, moment_now, outbox_email
from itsm import permissions
from itsm.models import (
    RISK_QUESTIONS,
    Approval,
    Change,
    ChangeStatus,
    ChangeType,
    Decision,
    FreezeWindow,
    Incident,
    Level,
    Outcome,
    Risk,
    StandardChangeTemplate,
    risk_from,
)
from itsm.services import approvals
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

EDITABLE_FIELDS = (
    "title",
    "description",
    "reason",
    "impact",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "planned_start",
    "planned_end",
    "implementer",
    "team",
)
# Changes whose window still matters for conflicts.
ACTIVE_WINDOW_STATES = (
    ChangeStatus.AWAITING_APPROVAL,
    ChangeStatus.SCHEDULED,
    ChangeStatus.IMPLEMENTING,
)


def _transitioning(
    change: Change, actor: Actor, name: str, comment: str = ""
) -> AbstractContextManager[Change]:
    return transitioning(
        change, actor, name, ensure=permissions.ensure_can_fire_change, comment=comment
    )


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start and end and end <= start:
        raise ValidationFailed("The change must end after it starts.", field="planned_end")


# --- reads the services need (and the pages show) -----------------------------------------
def freeze_windows_hit(change: Change, start: datetime, end: datetime) -> list[FreezeWindow]:
    """Freeze windows overlapping [start, end) on any of the change's services (or all)."""
    services = list(change.services.values_list("pk", flat=True))
    return list(
        FreezeWindow.objects.filter(start__lt=end, end__gt=start)
        .filter(Q(services__isnull=True) | Q(services__in=services))
        .distinct()
    )


def conflicts_of(
    change: Change, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[Change]:
    """Other changes on a shared service whose windows overlap this one's."""
    start, end = start or change.planned_start, end or change.planned_end
    if not (start and end):
        return Change.objects.none()
    return (
        Change.objects.filter(
            status__in=ACTIVE_WINDOW_STATES,
            planned_start__lt=end,
            planned_end__gt=start,
            services__in=change.services.all(),
        )
        .exclude(pk=change.pk)
        .distinct()
    )


# --- create and edit ----------------------------------------------------------------------
def change_create(
    *,
    actor: AbstractBaseUser,
    title: str = "",
    services: Iterable[Service] = (),
    type: str = ChangeType.NORMAL,  # noqa: A002 - the domain's word
    template: StandardChangeTemplate | None = None,
    description: str = "",
    reason: str = "",
    impact: str = Level.MEDIUM,
    implementation_plan: str = "",
    backout_plan: str = "",
    test_plan: str = "",
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    implementer: AbstractBaseUser | None = None,
) -> Change:
    """Draft a change (staff). A standard change comes from its template: plans and
    services are the template's. Audit: ``created``."""
    if not is_staff_member(actor):
        raise ActionForbidden("Changes are raised by support, development and managers.")
    if type not in ChangeType.values:
        raise ValidationFailed(f"Type is one of {', '.join(ChangeType.values)}.", field="type")
    services = list(services)
    if type == ChangeType.STANDARD:
        if template is None or not template.is_active:
            raise ValidationFailed(
                "A standard change starts from an active template.", field="template"
            )
        title = title or template.name
        implementation_plan = implementation_plan or template.implementation_plan
        backout_plan = backout_plan or template.backout_plan
        test_plan = test_plan or template.test_plan
        services = services or list(template.services.all())
    elif template is not None:
        raise ValidationFailed("Only standard changes use a template.", field="template")
    require(title and title.strip(), "title", "A title is required.")
    if not services:
        raise ValidationFailed("Name the services the change affects.", field="services")
    _check_window(planned_start, planned_end)
    with transaction.atomic():
        from core.services import sequence_next

        change = Change(
            number=sequence_next("change"),
            type=type,
            template=template,
            title=title.strip(),
            description=description,
            reason=reason,
            impact=impact,
            implementation_plan=implementation_plan,
            backout_plan=backout_plan,
            test_plan=test_plan,
            planned_start=planned_start,
            planned_end=planned_end,
            requested_by=actor,
            implementer=implementer,
            # a standard change is pre-approved as low risk; others wait for assessment
            risk=Risk.LOW if type == ChangeType.STANDARD else Risk.NOT_ASSESSED,
        )
        change.save()
        change.services.set(services)
        record(
            change,
            actor,
            "created",
            to_state=change.status,
            changes={
                **created_changes(change),
                "services": (None, ", ".join(s.name for s in services)),
            },
        )
    return change


def change_update(
    *, change: Change, actor: AbstractBaseUser, services: Any = None, **fields: Any
) -> Change:
    """Edit plans, window, implementer… while the change is not yet being implemented.
    A scheduled change whose window moves goes through ``schedule`` again."""
    ensure_editable(fields, EDITABLE_FIELDS)
    with transaction.atomic():
        locked = lock(change)
        if not (permissions.is_change_manager(actor, locked) or locked.requested_by_id == actor.pk):
            raise ActionForbidden(f"Only its requester or a Change Manager may edit {locked.key}.")
        if locked.status not in (
            ChangeStatus.DRAFT,
            ChangeStatus.SUBMITTED,
            ChangeStatus.ASSESSMENT,
            ChangeStatus.AWAITING_APPROVAL,
        ):
            raise IllegalTransition(
                f"{locked.key} is {locked.get_status_display().lower()}; its record is fixed now."
            )
        if "team" in fields:  # a retired team takes no new change; its own may stay
            ensure_not_retired(fields["team"], field="team", current=locked.team_id)
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        _check_window(locked.planned_start, locked.planned_end)
        save(locked)
        changes = diff(locked, before)
        if services is not None:
            old = ", ".join(s.name for s in locked.services.all())
            locked.services.set(services)
            new = ", ".join(s.name for s in locked.services.all())
            if old != new:
                changes["services"] = (old, new)
        if changes:
            record(locked, actor, "updated", changes=changes)
    return locked


# --- transitions --------------------------------------------------------------------------
def change_submit(*, change: Change, actor: Actor, comment: str = "") -> Change:
    """Submit the draft (draft → submitted): plans are complete."""
    with _transitioning(change, actor, "submit", comment) as c:
        missing = [
            f
            for f in ("implementation_plan", "backout_plan", "test_plan")
            if not getattr(c, f).strip()
        ]
        if c.type == ChangeType.STANDARD:
            missing = [f for f in missing if f != "test_plan"]
        if missing:
            raise ValidationFailed(
                "Complete the plans before submitting.",
                errors={f: ["This plan is required."] for f in missing},
            )
    return c


def change_assess(
    *,
    change: Change,
    actor: Actor,
    risk_answers: dict[str, bool],
    impact: str | None = None,
    comment: str = "",
) -> Change:
    """Assess a normal change (submitted → assessment): the risk questionnaire gives the
    risk level."""
    keys = {k for k, _, _ in RISK_QUESTIONS}
    unknown = set(risk_answers) - keys
    if unknown:
        raise ValidationFailed(
            f"Unknown questions: {', '.join(sorted(unknown))}.", field="risk_answers"
        )
    with _transitioning(change, actor, "assess", comment) as c:
        c.risk_answers = {k: bool(risk_answers.get(k, False)) for k in keys}
        c.risk = risk_from(c.risk_answers)
        if impact:
            c.impact = impact
    return c


def _default_cab() -> list[Any]:
    return [Group.objects.get_or_create(name=Role.CHANGE_MANAGER.value)[0]]


def change_request_approval(
    *,
    change: Change,
    actor: Actor,
    approvers: Iterable[AbstractBaseUser] = (),
    groups: Iterable[Group] = (),
    comment: str = "",
) -> Change:
    """Send to the CAB (normal, from assessment) or the emergency CAB (emergency, from
    submitted). Approvers are the named people and groups, or by default the Change
    Managers (any one of them). Nobody who requested or implements the change may be
    named (separation of duties), and a CAB nobody on it may approve is refused (400):
    a group whose only members are the requester or implementer, including the default
    one when the requester is the only Change Manager."""
    approvers, groups = list(approvers), list(groups)
    with _transitioning(change, actor, "request_approval", comment) as c:
        board = "Emergency CAB" if c.type == ChangeType.EMERGENCY else "CAB"
        if not approvers and not groups:
            try:
                approvals.ensure_approvable(c, _default_cab(), _conflict)
            except ValidationFailed as exc:
                raise ValidationFailed(
                    f"{exc.message} Name CAB members or a group who may approve it.",
                    field="approvers",
                ) from None
        approvals.approvals_request(
            c, actor, [*approvers, *groups] or _default_cab(), board, conflict_of_interest=_conflict
        )
    return c


def _conflict(change: Change, user: AbstractBaseUser) -> str | None:
    if change.requested_by_id == user.pk:
        return "nobody approves a change they requested."
    if change.implementer_id == user.pk:
        return "nobody approves a change they will implement."
    return None


def _on_decided(change: Change, actor: AbstractBaseUser, decided: list[Approval]) -> None:
    if any(a.decision == Decision.REJECTED for a in decided):
        approvals.approvals_cancel_pending(change)
        with transitioning(change, actor, "reject", ensure=_system) as c:
            outbox_email(
                event="change.rejected",
                recipients=[c.requested_by.email],
                subject=f"[{c.key}] Rejected by the CAB: {c.title}",
                body=f"{c.key} was rejected.\n\n{ticket_link(c)}",
                target=c,
            )
    elif all(a.decision == Decision.APPROVED for a in decided):
        record(change, actor, "cab_approved", comment="Every approver approved.")
        outbox_email(
            event="change.approved",
            recipients=change.sla_watchers(),
            subject=f"[{change.key}] Approved: {change.title}",
            body=f"{change.key} is approved and can be scheduled.\n\n{ticket_link(change)}",
            target=change,
        )


def _system(actor: Any, ticket: Any, name: str) -> None:
    from itsm.services.common import ensure_transition_possible

    ensure_transition_possible(ticket, name)


change_conflict = _conflict  # what the approvals page asks before offering


def change_decide(
    *, approval: Approval, actor: AbstractBaseUser, decision: str, comment: str = ""
) -> Approval:
    """A CAB member approves or rejects; separation of duties is enforced here too."""
    return approvals.approval_decide(
        approval=approval,
        actor=actor,
        decision=decision,
        comment=comment,
        conflict_of_interest=_conflict,
        on_decided=_on_decided,
    )


def approvals_complete(change: Change) -> bool:
    decided = list(approvals.approvals_of(change).exclude(decision=Decision.CANCELLED))
    return bool(decided) and all(a.decision == Decision.APPROVED for a in decided)


def change_schedule(
    *,
    change: Change,
    actor: Actor,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    freeze_override_reason: str = "",
    comment: str = "",
) -> Change:
    """Schedule the window (awaiting_approval → scheduled once every approver approved;
    submitted → scheduled for a standard change). A window inside a freeze window is
    refused (409) unless the change is an emergency and the override reason is given,
    which is recorded. Overlapping changes on a shared service are flagged in the audit
    row and on the change, not refused."""
    with _transitioning(change, actor, "schedule", comment) as c:
        c.planned_start = planned_start or c.planned_start
        c.planned_end = planned_end or c.planned_end
        if not (c.planned_start and c.planned_end):
            raise ValidationFailed("Give the planned start and end.", field="planned_start")
        _check_window(c.planned_start, c.planned_end)
        frozen = freeze_windows_hit(c, c.planned_start, c.planned_end)
        if frozen:
            names = ", ".join(str(f) for f in frozen)
            if c.type != ChangeType.EMERGENCY:
                raise IllegalTransition(
                    f"The window falls in a freeze: {names}. Choose another window "
                    "(only emergency changes may override a freeze)."
                )
            if not freeze_override_reason.strip():
                raise ValidationFailed(
                    f"The window falls in a freeze ({names}): give the override reason.",
                    field="freeze_override_reason",
                )
            c.freeze_override_reason = freeze_override_reason.strip()
            c.freeze_override_by = actor
        clashes = list(conflicts_of(c, c.planned_start, c.planned_end))
        if clashes:
            record(
                c,
                actor,
                "conflict_flagged",
                comment="Overlaps " + ", ".join(x.key for x in clashes) + " on a shared service.",
            )
        outbox_email(
            event="change.scheduled",
            recipients=c.sla_watchers(),
            subject=f"[{c.key}] Scheduled {c.planned_start:%d %b %H:%M}: {c.title}",
            body=f"{c.key} is scheduled from {c.planned_start} to {c.planned_end}."
            f"\n\n{ticket_link(c)}",
            target=c,
        )
    return c


def change_implement(
    *, change: Change, actor: Actor, comment: str = "", outside_window_reason: str = ""
) -> Change:
    """Start implementing (scheduled → implementing). Outside the approved window it is
    not refused here (the release gate refuses a go-live), but it never goes unnoticed:
    an ``outside_window`` audit row says so, with the reason when one is given."""
    with _transitioning(change, actor, "implement", comment) as c:
        c.actual_start = moment_now()
        c.implementer = c.implementer or actor
        start, end = c.planned_start, c.planned_end
        if start and end and not start <= c.actual_start <= end:
            local = timezone.localtime
            record(
                c,
                actor,
                "outside_window",
                comment=f"Implemented outside its approved window "
                f"{local(start):%d %b %H:%M}–{local(end):%d %b %H:%M}"
                + (f": {outside_window_reason}" if outside_window_reason else "."),
            )
    return c


def change_complete(
    *, change: Change, actor: Actor, outcome: str = Outcome.SUCCESSFUL, comment: str = ""
) -> Change:
    if outcome not in (Outcome.SUCCESSFUL, Outcome.PARTIAL):
        raise ValidationFailed("A completed change is successful or partial.", field="outcome")
    with _transitioning(change, actor, "complete", comment) as c:
        c.outcome, c.actual_end = outcome, moment_now()
    return c


def change_fail(*, change: Change, actor: Actor, comment: str) -> Change:
    """It went wrong and was backed out (implementing → failed)."""
    require(comment and comment.strip(), "comment", "Say what failed and how it was backed out.")
    with _transitioning(change, actor, "fail", comment) as c:
        c.outcome, c.actual_end = Outcome.FAILED, moment_now()
    return c


def change_close(*, change: Change, actor: Actor, review_notes: str, comment: str = "") -> Change:
    """Close after the post-implementation review (review/failed → closed)."""
    require(
        review_notes and review_notes.strip(),
        "review_notes",
        "Write the post-implementation review.",
    )
    with _transitioning(change, actor, "close", comment) as c:
        c.review_notes, c.closed_at = review_notes.strip(), moment_now()
    return c


def change_cancel(*, change: Change, actor: Actor, comment: str = "") -> Change:
    with _transitioning(change, actor, "cancel", comment) as c:
        approvals.approvals_cancel_pending(c)
        c.closed_at = moment_now()
    return c


CHANGE_TRANSITION_SERVICES: dict[str, Callable[..., Change]] = {
    "submit": change_submit,
    "assess": change_assess,
    "request_approval": change_request_approval,
    "schedule": change_schedule,
    "implement": change_implement,
    "complete": change_complete,
    "fail": change_fail,
    "close": change_close,
    "cancel": change_cancel,
}


# --- links ----------------------------------------------------------------------------------
def change_link_incident(
    *, change: Change, actor: AbstractBaseUser, incident: Incident
) -> Incident:
    """Record that the change caused the incident (audited on both): who works the
    incident or a Change Manager (``permissions.can_link_cause``)."""
    with transaction.atomic():
        locked = lock(change)
        inc = lock(incident)
        if not permissions.can_link_cause(actor, inc, locked):
            raise ActionForbidden(
                f"Only those working {inc.key} or a Change Manager record what caused it."
            )
        before = snapshot(inc)
        inc.caused_by_change = locked
        save(inc)
        record(inc, actor, "caused_by_change", before=before, comment=f"Caused by {locked.key}.")
        record(locked, actor, "incident_caused", comment=f"{inc.key} was caused by this change.")
    return inc


def change_comment(
    *, change: Change, actor: AbstractBaseUser, body: str, public: bool = False
) -> Comment:
    """A work note (changes have no public side). Its Change Manager(s), requester,
    implementer, team and approvers write them (``permissions.can_work_change``)."""
    require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = lock(change)
        if not permissions.can_work_change(actor, locked):
            raise ActionForbidden(
                f"Only those working {locked.key} (Change Manager, requester, implementer, "
                "team, approvers) may write on it."
            )
        return comment_create(target=locked, author=actor, body=body.strip(), public=False)
