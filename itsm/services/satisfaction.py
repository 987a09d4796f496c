"""The only write path for satisfaction answers.

On each resolution of an incident (and fulfilment of a service request) the resolving
service calls ``satisfaction_ask`` in its own transaction: one row per resolution, with the
team, service and agent of that moment, and the two signed links the e-mail carries. The
requester answers through a link (the signed token is the proof, no login) or on the
portal's ticket page (``satisfaction_answer``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.urls import reverse

from core.exceptions import ActionForbidden, ConflictError, NotFound, ValidationFailed
from core.roles import is_staff_member
from core.services import audit_record, moment_now
from itsm.models import (
    Incident,
    IncidentStatus,
    RequestStatus,
    SatisfactionResponse,
    ServiceRequest,
)
from itsm.models.satisfaction import COMMENT_MAX_CHARS
from itsm.services.common import lock

# Signed tokens of one purpose cannot be replayed as tokens of another.
TOKEN_SALT = "itsm.satisfaction"
ACTION = "satisfaction_answered"
# The states in which a ticket's latest resolution may still be rated: once reopened,
# the question waits for the next resolution.
ANSWERABLE = {
    "incident": frozenset({IncidentStatus.RESOLVED, IncidentStatus.CLOSED}),
    "request": frozenset({RequestStatus.FULFILLED, RequestStatus.CLOSED}),
}


def ticket_kind(ticket: Any) -> str:
    if isinstance(ticket, Incident):
        return "incident"
    if isinstance(ticket, ServiceRequest):
        return "request"
    raise ValidationFailed(f"{ticket} does not ask for satisfaction.")


def resolution_round(ticket: Any) -> int:
    """Which resolution of the ticket this is: a reopened incident is asked again when it
    is resolved again (a request is fulfilled once)."""
    return int(getattr(ticket, "reopen_count", 0)) + 1


def _service_id(ticket: Any) -> int | None:
    return ticket.service_id if isinstance(ticket, Incident) else ticket.item.service_id


def satisfaction_ask(*, ticket: Any, actor: AbstractBaseUser | None) -> SatisfactionResponse:
    """Ask the requester about this resolution (call inside the resolving transaction).
    Precondition: the ticket has just been resolved or fulfilled. Writes the round's row
    (once: asking twice in one round returns the same row) with the team, service and
    agent (the assignee, else the staff member who resolved) of this moment. No audit row
    of its own: the resolution's row says what happened. No e-mail: the caller's carries
    ``satisfaction_email_text``."""
    kind = ticket_kind(ticket)
    agent_id = ticket.assignee_id
    if agent_id is None and actor is not None and is_staff_member(actor):
        agent_id = actor.pk
    response, _ = SatisfactionResponse.objects.get_or_create(
        **{f"{kind}_id": ticket.pk},
        round=resolution_round(ticket),
        defaults={
            "requester_id": ticket.requester_id,
            "team_id": ticket.team_id,
            "service_id": _service_id(ticket),
            "agent_id": agent_id,
            "asked_at": moment_now(),
        },
    )
    return response


def satisfaction_token(response: SatisfactionResponse) -> str:
    """A signed, timestamped token bound to the ticket, its requester and the round."""
    payload = {
        "k": response.ticket_kind,
        "t": response.incident_id or response.request_id,
        "u": response.requester_id,
        "r": response.round,
    }
    return signing.dumps(payload, salt=TOKEN_SALT)


def satisfaction_link(response: SatisfactionResponse, answer: str) -> str:
    path = reverse("itsm:satisfaction_link", args=[satisfaction_token(response)])
    return f"{settings.TANDEM_BASE_URL}{path}?answer={answer}"


def satisfaction_email_text(response: SatisfactionResponse) -> str:
    """The question, as the resolution e-mail's closing paragraph."""
    return (
        "Are you satisfied with how this was handled? One click answers:\n"
        f"  Yes, satisfied: {satisfaction_link(response, 'yes')}\n"
        f"  No: {satisfaction_link(response, 'no')}\n"
    )


def satisfaction_from_token(token: str) -> SatisfactionResponse:
    """The question a link answers. 400 for a link that was changed or cut short, 403
    once it has expired, 404 when its ticket is gone."""
    max_age = timedelta(days=settings.SATISFACTION_LINK_DAYS)
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ActionForbidden(
            f"This link has expired (links answer for {settings.SATISFACTION_LINK_DAYS} "
            "days). Sign in and answer on the ticket's page instead."
        ) from exc
    except signing.BadSignature as exc:
        raise ValidationFailed(
            "This link is not valid: it may have been cut short or changed. Open it "
            "exactly as it is in the e-mail, or answer on the ticket's page."
        ) from exc
    try:
        kind, ticket_id, user_id, round_ = data["k"], int(data["t"]), int(data["u"]), int(data["r"])
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, but not a question
        raise ValidationFailed("This link is not valid.") from exc
    if kind not in ANSWERABLE:
        raise ValidationFailed("This link is not valid.")
    response = (
        SatisfactionResponse.objects.select_related("incident", "request__item", "requester")
        .filter(**{f"{kind}_id": ticket_id}, round=round_, requester_id=user_id)
        .first()
    )
    if response is None:
        raise NotFound("The ticket this link asks about no longer exists.")
    return response


def current_question(ticket: Any) -> SatisfactionResponse | None:
    """The question of the ticket's latest resolution while it may be answered."""
    kind = ticket_kind(ticket)
    if ticket.status not in ANSWERABLE[kind]:
        return None
    return SatisfactionResponse.objects.filter(
        **{f"{kind}_id": ticket.pk}, round=resolution_round(ticket)
    ).first()


def _clean(satisfied: Any, comment: str | None) -> tuple[bool, str]:
    if not isinstance(satisfied, bool):
        raise ValidationFailed("Say whether you are satisfied: yes or no.", field="satisfied")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise ValidationFailed(
            f"The comment is {len(comment)} characters; keep it under {COMMENT_MAX_CHARS}.",
            field="comment",
        )
    return satisfied, comment


def satisfaction_answer(
    *,
    ticket: Any,
    actor_or_token: AbstractBaseUser | str,
    satisfied: bool,
    comment: str = "",
) -> SatisfactionResponse:
    """Record the requester's answer about the ticket's latest resolution.

    ``actor_or_token``: the signed-in requester, or the token of an e-mail link (the token
    is the proof of who answers; the audit row names its requester). Preconditions: the
    ticket is resolved or closed (fulfilled or closed) and the question is of its latest
    resolution; answering again before the next resolution replaces the answer. One
    transaction; one audit row ``satisfaction_answered`` on the ticket (staff see it on the
    timeline). No e-mail and no notice to watchers: an answer starts no conversation."""
    satisfied, comment = _clean(satisfied, comment)
    kind = ticket_kind(ticket)
    with transaction.atomic():
        locked = lock(ticket)
        if isinstance(actor_or_token, str):
            asked = satisfaction_from_token(actor_or_token)
            if (asked.incident_id or asked.request_id) != locked.pk or asked.ticket_kind != kind:
                raise ValidationFailed(f"This link is not about {locked.key}.")
            actor = asked.requester
        else:
            actor = actor_or_token
            if not actor.is_authenticated or locked.requester_id != actor.pk:
                raise ActionForbidden(f"Only the requester of {locked.key} is asked about it.")
            asked = current_question(locked)
            if asked is None:
                raise ConflictError(_not_answerable(locked))
        if locked.status not in ANSWERABLE[kind] or asked.round != resolution_round(locked):
            raise ConflictError(_not_answerable(locked))
        response = SatisfactionResponse.objects.select_for_update().get(pk=asked.pk)
        response.satisfied, response.comment = satisfied, comment
        response.answered_at = moment_now()
        response.save(update_fields=["satisfied", "comment", "answered_at"])
        said = "Satisfied" if satisfied else "Not satisfied"
        audit_record(
            target=locked,
            actor=actor,
            action=ACTION,
            comment=f"{said}: {comment}" if comment else f"{said}.",
        )
    return response


def _not_answerable(ticket: Any) -> str:
    if ticket.status in ANSWERABLE[ticket_kind(ticket)]:
        return (
            f"{ticket.key} has been resolved again since this question was asked; "
            "answer the latest one."
        )
    return (
        f"{ticket.key} is {ticket.get_status_display().lower()}; you will be asked again "
        "when it is resolved."
    )
