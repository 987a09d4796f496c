"""The only write path for service requests and their fulfilment tasks."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.ids import parse_id
from core.models import Comment, UserProfile
from core.roles import is_staff_member
from core.services import comment_create, moment_now, outbox_email, sequence_next, team_recipients
from itsm import permissions
from itsm.models import (
    Approval,
    ApprovalRule,
    CatalogItem,
    Decision,
    FieldType,
    FulfilmentTask,
    RequestStatus,
    ServiceRequest,
    TaskStatus,
)
from itsm.services import approvals
from itsm.services.common import (
    Actor,
    created_changes,
    lock,
    record,
    require,
    snapshot,
    ticket_link,
    transitioning,
)
from itsm.services.satisfaction import satisfaction_ask, satisfaction_email_text

User = get_user_model()


# --- answers ------------------------------------------------------------------------------
def validate_answers(item: CatalogItem, answers: dict[str, Any]) -> dict[str, Any]:
    """Check the answers against the item's fields; return them cleaned (dates as ISO,
    numbers as strings of decimals, users as usernames). 400 naming every bad field."""
    if not isinstance(answers, dict):
        raise ValidationFailed("Answers are a JSON object.", field="answers")
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    fields = list(item.fields.all())
    unknown = set(answers) - {f.name for f in fields}
    for name in sorted(unknown):
        errors[name] = ["Not a field of this item."]
    for f in fields:
        raw = answers.get(f.name)
        if raw in (None, "") or (isinstance(raw, str) and not raw.strip()):
            if f.required:
                errors[f.name] = ["This field is required."]
            continue
        value = str(raw).strip()
        if f.type == FieldType.CHOICE and value not in f.options():
            errors[f.name] = [f"Choose one of: {', '.join(f.options())}."]
        elif f.type == FieldType.DATE:
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError:
                errors[f.name] = ["A date as YYYY-MM-DD."]
        elif f.type == FieldType.NUMBER:
            try:
                number = Decimal(value)
                if not number.is_finite():
                    raise InvalidOperation
                value = str(number)
            except InvalidOperation:
                errors[f.name] = ["A number."]
        elif f.type == FieldType.USER:
            user = User.objects.filter(username=value, is_active=True).first()
            if user is None and parse_id(value):
                user = User.objects.filter(pk=parse_id(value), is_active=True).first()
            if user is None:
                errors[f.name] = [f"No active user '{value}'."]
            else:
                value = user.username
        elif len(value) > 2000:
            errors[f.name] = ["At most 2000 characters."]
        clean[f.name] = value
    if errors:
        raise ValidationFailed("Some answers are missing or not valid.", errors=errors)
    return clean


def _approvers(item: CatalogItem, requester: AbstractBaseUser) -> list[Any]:
    if item.approval == ApprovalRule.MANAGER:
        profile = UserProfile.objects.filter(user=requester).select_related("manager").first()
        if profile is None or profile.manager is None:
            raise ValidationFailed(
                "This item needs your manager's approval, and Tandem knows no manager for "
                "you. Ask the service desk to record your manager.",
                field="item",
            )
        return [profile.manager]
    if item.approval == ApprovalRule.GROUP:
        return [item.approval_group]
    return []


# --- submit and move on -------------------------------------------------------------------
def request_submit(
    *,
    actor: AbstractBaseUser,
    item: CatalogItem,
    answers: dict[str, Any],
    requester: AbstractBaseUser | None = None,
) -> ServiceRequest:
    """Order a catalogue item. With no approval it is approved at once and its fulfilment
    tasks are created; otherwise its approvers are asked. Audit: ``created``."""
    if not item.is_active:
        raise ValidationFailed(f"{item} can no longer be ordered.", field="item")
    requester = requester or actor
    if requester.pk != actor.pk and not is_staff_member(actor):
        raise ActionForbidden("Only service desk staff may order for someone else.")
    clean = validate_answers(item, answers)
    approvers = _approvers(item, requester)
    with transaction.atomic():
        req = ServiceRequest(
            number=sequence_next("request"),
            item=item,
            requester=requester,
            answers=clean,
            team=item.fulfilment_team,
        )
        req.save()
        record(req, actor, "created", to_state=req.status, changes=created_changes(req))
        outbox_email(
            event="request.submitted",
            recipients=[requester.email],
            subject=f"[{req.key}] We have your request: {item.name}",
            body=f"Your request {req.key} for {item.name} is in.\n\n{ticket_link(req)}",
            target=req,
        )
        if approvers:
            with transitioning(req, None, "request_approval", ensure=_system) as r:
                approvals.approvals_request(
                    r,
                    None,
                    approvers,
                    reason="Approval",
                    conflict_of_interest=_no_self_approval,
                    fields=("item", "item"),
                )
        else:
            _approve(req, None, "No approval needed.")
    req.refresh_from_db()
    return req


def _system(actor: Any, ticket: Any, name: str) -> None:
    """Transitions Tandem fires itself (after approvals, after tasks): the state decides."""
    from itsm.services.common import ensure_transition_possible

    ensure_transition_possible(ticket, name)


def _approve(req: ServiceRequest, actor: Actor, comment: str) -> ServiceRequest:
    with transitioning(req, actor, "approve", ensure=_system, comment=comment) as r:
        r.approved_at = moment_now()
        for template in r.item.task_templates.all():
            FulfilmentTask.objects.create(
                request=r,
                title=template.title,
                description=template.description,
                order=template.order,
            )
        outbox_email(
            event="request.approved",
            recipients=team_recipients(r.team),
            subject=f"[{r.key}] Approved, ready to fulfil: {r.item.name}",
            body=f"{r.key} for {r.requester} is approved.\n\n{ticket_link(r)}",
            target=r,
        )
    return r


def _on_decided(req: ServiceRequest, actor: AbstractBaseUser, decided: list[Approval]) -> None:
    if any(a.decision == Decision.REJECTED for a in decided):
        approvals.approvals_cancel_pending(req)
        with transitioning(req, actor, "reject", ensure=_system) as r:
            outbox_email(
                event="request.rejected",
                recipients=[r.requester.email],
                subject=f"[{r.key}] Not approved: {r.item.name}",
                body=f"Your request was not approved.\n\n{ticket_link(r)}",
                target=r,
            )
    elif all(a.decision == Decision.APPROVED for a in decided):
        _approve(req, actor, "Every approver approved.")


def _no_self_approval(req: ServiceRequest, user: AbstractBaseUser) -> str | None:
    if req.requester_id == user.pk:
        return "Nobody approves their own request."
    return None


request_conflict = _no_self_approval  # what the approvals page asks before offering


def request_decide(
    *, approval: Approval, actor: AbstractBaseUser, decision: str, comment: str = ""
) -> Approval:
    return approvals.approval_decide(
        approval=approval,
        actor=actor,
        decision=decision,
        comment=comment,
        conflict_of_interest=_no_self_approval,
        on_decided=_on_decided,
    )


def _ensure(actor: Actor, req: ServiceRequest, name: str) -> None:
    permissions.ensure_can_fire_request(actor, req, name)


def _transitioning(
    req: ServiceRequest, actor: Actor, name: str, comment: str = ""
) -> AbstractContextManager[ServiceRequest]:
    return transitioning(req, actor, name, ensure=_ensure, comment=comment)


def request_start_fulfilment(
    *, request: ServiceRequest, actor: Actor, comment: str = ""
) -> ServiceRequest:
    """The fulfilment team picks it up (approved → fulfilling)."""
    with _transitioning(request, actor, "start_fulfilment", comment) as r:
        r.assignee = r.assignee or actor
    return r


def request_close(*, request: ServiceRequest, actor: Actor, comment: str = "") -> ServiceRequest:
    with _transitioning(request, actor, "close", comment) as r:
        r.closed_at = moment_now()
    return r


def request_cancel(*, request: ServiceRequest, actor: Actor, comment: str = "") -> ServiceRequest:
    with _transitioning(request, actor, "cancel", comment) as r:
        approvals.approvals_cancel_pending(r)
        r.tasks.filter(status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS]).update(
            notes="Request cancelled."
        )
        r.closed_at = moment_now()
    return r


REQUEST_TRANSITION_SERVICES: dict[str, Callable[..., ServiceRequest]] = {
    "start_fulfilment": request_start_fulfilment,
    "close": request_close,
    "cancel": request_cancel,
}


# --- tasks --------------------------------------------------------------------------------
def task_transition(
    *, task: FulfilmentTask, actor: AbstractBaseUser, name: str, notes: str = ""
) -> FulfilmentTask:
    """Start, complete or cancel a fulfilment task (the request's team). When the last
    task is finished, the request is fulfilled and the requester told."""
    with transaction.atomic():
        req = lock(task.request)
        t = lock(task)
        if not permissions.can_work_request(actor, req):
            raise ActionForbidden(f"Only {req.team} may work the tasks of {req.key}.")
        if req.status != RequestStatus.FULFILLING:
            raise IllegalTransition(
                f"{req.key} is {req.get_status_display().lower()}; "
                "its tasks are worked while it is being fulfilled."
            )
        if name not in {x.name for x in t.get_available_status_transitions()}:
            raise IllegalTransition(f"Task '{t.title}' is {t.get_status_display().lower()}.")
        before, from_state = snapshot(t), t.status
        getattr(t, name)()
        t.assignee = t.assignee or actor
        if notes:
            t.notes = notes.strip()
        if t.is_finished:
            t.done_at = moment_now()
        t.save()
        changes = {
            f: (before[f], getattr(t, f)) for f in t.AUDITED_FIELDS if before[f] != getattr(t, f)
        }
        record(
            req,
            actor,
            f"task_{name}",
            from_state=from_state,
            to_state=t.status,
            comment=f"Task '{t.title}'" + (f": {t.notes}" if notes else ""),
            changes={"task": (t.title, t.status), **changes},
        )
        tasks = list(req.tasks.all())
        if all(x.is_finished for x in tasks) and any(x.status == TaskStatus.DONE for x in tasks):
            with transitioning(
                req, None, "fulfil", ensure=_system, comment="Every task is finished."
            ) as r:
                r.fulfilled_at = moment_now()
                question = satisfaction_ask(ticket=r, actor=actor)
                outbox_email(
                    event="request.fulfilled",
                    recipients=[r.requester.email],
                    subject=f"[{r.key}] Done: {r.item.name}",
                    body=(
                        f"Your request {r.key} is fulfilled.\n\n{ticket_link(r)}\n\n"
                        f"{satisfaction_email_text(question)}"
                    ),
                    target=r,
                )
    return t


def request_comment(
    *, request: ServiceRequest, actor: AbstractBaseUser, body: str, public: bool = True
) -> Comment:
    """A public reply (its fulfilment team, its assignee, its requester) or an internal
    note (the team and the assignee). Outbox: a reply by staff goes to the requester."""
    require(body and body.strip(), "body", "The comment is empty.")
    with transaction.atomic():
        locked = lock(request)
        if public and not permissions.can_reply_request(actor, locked):
            raise ActionForbidden(
                f"Only its fulfilment team, its assignee or its requester may reply on "
                f"{locked.key}."
            )
        if not public and not permissions.can_note_request(actor, locked):
            raise ActionForbidden(
                f"Only its fulfilment team or its assignee may write internal notes on "
                f"{locked.key}."
            )
        comment = comment_create(target=locked, author=actor, body=body.strip(), public=public)
        if public and actor.pk != locked.requester_id:
            outbox_email(
                event="request.reply",
                recipients=[locked.requester.email],
                subject=f"[{locked.key}] New reply: {locked.item.name}",
                body=f"{actor} wrote:\n\n{comment.body}\n\n{ticket_link(locked)}",
                target=locked,
            )
        return comment
