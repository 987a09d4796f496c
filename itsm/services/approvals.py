"""Approvals shared by requests and changes: ask, decide, and what a decision means is
left to the ticket's own service (passed in as ``on_decided``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import ServiceRole
from core.roles import PROCESS_ROLES, Role, holds_process_role, service_roles_held
from core.services import moment_now, outbox_email, replayed_stamp
from itsm.models import Approval, Decision
from itsm.services.common import lock, record, ticket_link


def approvals_of(ticket: Any) -> QuerySet[Approval]:
    return Approval.objects.filter(
        content_type=ContentType.objects.get_for_model(ticket), object_id=ticket.pk
    ).select_related("approver", "group", "decided_by")


ConflictOfInterest = Callable[[Any, AbstractBaseUser], str | None]


def _nobody_conflicted(ticket: Any, user: AbstractBaseUser) -> str | None:
    return None


def ensure_approvable(
    ticket: Any,
    approvers: Iterable[AbstractBaseUser | Group],
    conflict_of_interest: ConflictOfInterest = _nobody_conflicted,
    *,
    fields: tuple[str, str] = ("approvers", "groups"),
) -> None:
    """Refuse (400) an approval nobody may give: a person who may not decide on
    ``ticket`` (inactive, or ``conflict_of_interest`` names why), or a group without one
    active member who may. Found when the approval is asked for, not when it is stuck.
    ``fields`` names the input fields of people and of groups, for the error."""
    person_field, group_field = fields
    for who in approvers:
        if isinstance(who, Group):
            members = _eligible_for_group(ticket, who)
            refusals = [(u, conflict_of_interest(ticket, u)) for u in members]
            if all(why for _, why in refusals):
                why = (
                    "; ".join(f"{u}: {why}" for u, why in refusals)
                    if refusals
                    else "it has no active member."
                )
                raise ValidationFailed(
                    f"Nobody can approve for {who.name}: {why}", field=group_field
                )
        else:
            why_not = (
                "not an active user" if not who.is_active else conflict_of_interest(ticket, who)
            )
            if why_not:
                raise ValidationFailed(
                    f"{who} cannot approve {ticket.key}: {why_not}", field=person_field
                )


def _eligible_for_group(ticket: Any, group: Group) -> list[AbstractBaseUser]:
    """Who may answer an approval asked of ``group`` on ``ticket`` (``may_decide``): its
    active members and, for a process role's group (the Change Managers), whoever holds
    that role for one of the ticket's services."""
    members = set(group.user_set.filter(is_active=True))
    if group.name in {r.value for r in PROCESS_ROLES}:
        holders = ServiceRole.objects.filter(
            role=group.name, service_id__in=_service_ids(ticket), user__is_active=True
        ).select_related("user")
        members |= {h.user for h in holders}
    return sorted(members, key=lambda u: u.get_username())


def approvals_request(
    ticket: Any,
    actor: Any,
    approvers: Iterable[AbstractBaseUser | Group],
    reason: str,
    *,
    conflict_of_interest: ConflictOfInterest = _nobody_conflicted,
    fields: tuple[str, str] = ("approvers", "groups"),
) -> list[Approval]:
    """Create one pending approval per approver (a person or a group) and tell them.
    Inside the caller's transaction. Refuses (400, nothing written) an approval nobody may
    give (``ensure_approvable``): the same ``conflict_of_interest`` that the decision
    checks decides it here."""
    approvers = list(approvers)
    ensure_approvable(ticket, approvers, conflict_of_interest, fields=fields)
    ct = ContentType.objects.get_for_model(ticket)
    made = []
    for who in approvers:
        is_group = isinstance(who, Group)
        approval = Approval.objects.create(
            content_type=ct,
            object_id=ticket.pk,
            reason=reason,
            approver=None if is_group else who,
            group=who if is_group else None,
        )
        replayed_stamp(approval, created=True)  # requested when the replay says
        made.append(approval)
        # a group's approval goes to all who may give it (a role's per-service holders too)
        emails = [u.email for u in _eligible_for_group(ticket, who)] if is_group else [who.email]
        outbox_email(
            event="approval.requested",
            recipients=emails,
            subject=f"[{ticket.key}] Your approval is needed: {ticket.title}",
            body=f"{reason}: please approve or reject {ticket.key}.\n\n{ticket_link(ticket)}",
            target=ticket,
        )
    if made:
        record(
            ticket,
            actor,
            "approval_requested",
            comment=f"{reason}: " + ", ".join(a.approver_label for a in made),
        )
    return made


def approvals_cancel_pending(ticket: Any) -> None:
    approvals_of(ticket).filter(decision=Decision.PENDING).update(
        decision=Decision.CANCELLED, decided_at=moment_now()
    )


def _service_ids(ticket: Any) -> list[int]:
    if hasattr(ticket, "services"):  # a change touches several services
        return [s.pk for s in ticket.services.all()]
    item = getattr(ticket, "item", None)  # a request, through its catalogue item
    return [item.service_id] if item is not None else []


def _holds_group_role(user: AbstractBaseUser, approval: Approval) -> bool:
    """An approval asked of a process role's group (the Change Managers) may be given by
    whoever holds that role for the ticket's service (core.roles.holds_process_role)."""
    name = approval.group.name if approval.group_id else ""
    if name not in {r.value for r in PROCESS_ROLES}:
        return False
    return holds_process_role(user, Role(name), _service_ids(approval.ticket))


def may_decide(user: AbstractBaseUser, approval: Approval) -> bool:
    if approval.approver_id is not None:
        return approval.approver_id == user.pk
    # pending_for annotates membership, so a list asks no query per approval
    member = getattr(approval, "in_my_group", None)
    if member is None:
        member = user.groups.filter(pk=approval.group_id).exists()
    return member or _holds_group_role(user, approval)


def _with_tickets(qs: QuerySet[Approval]) -> QuerySet[Approval]:
    """Approvals with their tickets and the tickets' services, in a fixed number of
    queries (``may_decide`` on each asks the services of a per-service holder)."""
    from itsm.models import Change, ServiceRequest

    return qs.select_related("approver", "group", "content_type", "decided_by").prefetch_related(
        GenericPrefetch(
            "ticket",
            [
                Change.objects.prefetch_related("services"),
                ServiceRequest.objects.select_related("item"),
            ],
        )
    )


def pending_for(user: AbstractBaseUser) -> QuerySet[Approval]:
    """What awaits this person's decision, theirs or their groups', or a process role's
    group where they hold that role for the ticket's service."""
    per_service = {role for role, _ in service_roles_held(user)}
    candidates = _with_tickets(
        Approval.objects.filter(
            decision=Decision.PENDING, approver__isnull=True, group__name__in=per_service
        ).exclude(group__in=user.groups.all())
    )
    held = [a.pk for a in candidates if _holds_group_role(user, a)] if per_service else []
    return _with_tickets(
        Approval.objects.filter(
            Q(approver=user) | Q(group__in=user.groups.all()) | Q(pk__in=held),
            decision=Decision.PENDING,
        ).annotate(in_my_group=Exists(user.groups.filter(pk=OuterRef("group_id"))))
    )


def approval_decide(
    *,
    approval: Approval,
    actor: AbstractBaseUser,
    decision: str,
    comment: str = "",
    conflict_of_interest: ConflictOfInterest = _nobody_conflicted,
    on_decided: Callable[[Any, AbstractBaseUser, list[Approval]], None],
) -> Approval:
    """Approve or reject. ``conflict_of_interest`` names why this person may not decide
    (separation of duties); ``on_decided`` moves the ticket on once the decision is in
    (every approval approved → approved; any rejection → rejected). One transaction."""
    if decision not in (Decision.APPROVED, Decision.REJECTED):
        raise ValidationFailed("Decide 'approved' or 'rejected'.", field="decision")
    if decision == Decision.REJECTED and not comment.strip():
        raise ValidationFailed("Say why you reject it.", field="comment")
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval.pk)
        ticket = lock(approval.ticket)
        if not may_decide(actor, approval):
            raise ActionForbidden("This approval is not yours to give.")
        why_not = conflict_of_interest(ticket, actor)
        if why_not:
            raise ActionForbidden(why_not)
        if approval.decision != Decision.PENDING:
            raise IllegalTransition(f"This approval is already {approval.decision}.")
        approval.decision, approval.comment = decision, comment.strip()
        approval.decided_by, approval.decided_at = actor, moment_now()
        approval.save()
        record(
            ticket,
            actor,
            f"approval_{decision}",
            comment=f"{approval.reason} ({approval.approver_label}): {decision}"
            + (f" — {approval.comment}" if approval.comment else ""),
        )
        on_decided(ticket, actor, list(approvals_of(ticket).exclude(decision=Decision.CANCELLED)))
    return approval
