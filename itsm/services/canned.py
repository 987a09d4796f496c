"""Canned replies: who may use and manage them, the lists a user sees, the writes (one
transaction and one audit row each) and the filling-in of placeholders for a ticket.

Rules (docs/decisions.md, "Issue 12: canned replies"): only staff (who answer tickets) keep
canned replies. A personal reply is its owner's alone; a team reply is used and managed by
the team's members, and managed by Administrators (who look after every team's wording).
Which team or person a reply belongs to is set when it is created and not changed after:
moving a reply is deleting it and creating it again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import F, Q, QuerySet

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Team
from core.roles import is_administrator, is_staff_member
from core.services import COMMENT_MAX_CHARS, audit_record
from core.validation import ensure_lengths
from itsm.models import Incident, ServiceRequest
from itsm.models.canned import PLACEHOLDERS, CannedReply, fill, unknown_placeholders
from itsm.permissions import user_team_ids
from itsm.services.common import ensure_editable, ticket_link

User = AbstractBaseUser | AnonymousUser
EDITABLE = ("title", "body")
# Personal replies first (no team), then by team and title, on every database.
ORDER = (F("team__name").asc(nulls_first=True), "title", "id")


# --- permissions --------------------------------------------------------------------------
def can_use_canned_replies(user: User) -> bool:
    """Staff answer tickets; a requester has no canned replies (nor the page, nor the API)."""
    return is_staff_member(user)


def can_manage_canned_reply(user: User, reply: CannedReply) -> bool:
    """Edit or delete: a personal reply by its owner; a team reply by a member of the team
    or an Administrator."""
    if not can_use_canned_replies(user):
        return False
    if reply.owner_id is not None:
        return reply.owner_id == user.pk
    return reply.team_id in user_team_ids(user) or is_administrator(user)


def can_share_with(user: User, team: Team) -> bool:
    """Create a reply for ``team``: its members and Administrators."""
    return can_use_canned_replies(user) and (
        team.pk in user_team_ids(user) or is_administrator(user)
    )


def shareable_teams(user: User) -> QuerySet[Team]:
    """The teams the user may create a reply for (the page's choice)."""
    if is_administrator(user):
        return Team.objects.order_by("tier", "name")
    return Team.objects.filter(pk__in=user_team_ids(user)).order_by("tier", "name")


# --- selectors ----------------------------------------------------------------------------
def canned_replies_usable(user: User) -> QuerySet[CannedReply]:
    """The replies a user may insert: their own and their teams', personal ones first."""
    if not can_use_canned_replies(user):
        return CannedReply.objects.none()
    scope = Q(owner_id=user.pk) | Q(team_id__in=user_team_ids(user))
    return CannedReply.objects.filter(scope).select_related("team").order_by(*ORDER)


def canned_replies_visible(user: User) -> QuerySet[CannedReply]:
    """What the page and the API list: the usable ones, and for an Administrator every
    team's (so they can be looked after); never another person's personal replies."""
    if not can_use_canned_replies(user):
        return CannedReply.objects.none()
    if is_administrator(user):
        scope = Q(owner_id=user.pk) | Q(team__isnull=False)
        return CannedReply.objects.filter(scope).select_related("team").order_by(*ORDER)
    return canned_replies_usable(user)


def canned_ticket(user: User, ref: str) -> Incident | ServiceRequest:
    """The incident (``INC-…``) or service request (``REQ-…``) a reply is filled for, among
    the tickets the user may see: 404 otherwise, 400 for a ref that is neither."""
    from itsm import selectors  # selectors read what services wrote: imported late

    text = (ref or "").strip().upper()
    if text.startswith(f"{Incident.KEY_PREFIX}-"):
        return selectors.incident_get(user, text)
    if text.startswith(f"{ServiceRequest.KEY_PREFIX}-"):
        return selectors.request_get(user, text)
    raise ValidationFailed("Name the ticket by its key, e.g. INC-1042 or REQ-17.", field="ticket")


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def placeholder_values(ticket: Incident | ServiceRequest, agent: Any) -> dict[str, str]:
    """What each placeholder stands for on ``ticket`` with ``agent`` replying. Reads the
    ticket's requester and service as loaded (the selectors join them)."""
    requester = ticket.requester
    service = ticket.service if isinstance(ticket, Incident) else ticket.item.service
    return {
        "requester.first_name": requester.first_name or requester.get_username(),
        "requester.name": _name(requester),
        "ticket.key": ticket.key,
        "ticket.title": ticket.title,
        "ticket.service": str(service),
        "ticket.url": ticket_link(ticket),
        "agent.first_name": agent.first_name or agent.get_username(),
        "agent.name": _name(agent),
    }


def canned_render(*, reply: CannedReply, ticket: Incident | ServiceRequest, agent: Any) -> str:
    """``reply``'s body filled for ``ticket`` (plain replacement, never a template)."""
    return fill(reply.body, placeholder_values(ticket, agent))


# --- services -----------------------------------------------------------------------------
def _braced(name: str) -> str:
    return "{{ " + name + " }}"


def _ensure_text(title: str, body: str) -> None:
    errors: dict[str, list[str]] = {}
    if not (title or "").strip():
        errors["title"] = ["Give the reply a title."]
    if not (body or "").strip():
        errors["body"] = ["Write the reply's text."]
    for name, value in (("title", title), ("body", body)):
        if "\x00" in value:  # PostgreSQL refuses NUL in text: a 400 here, not a 500 there
            errors[name] = ["Remove the NUL character."]
    if errors:
        raise ValidationFailed(" ".join(m[0] for m in errors.values()), errors=errors)
    ensure_lengths(CannedReply, {"title": title})
    if len(body) > COMMENT_MAX_CHARS:  # it becomes a comment: the comments' limit
        raise ValidationFailed(
            f"A canned reply is at most {COMMENT_MAX_CHARS:,} characters (this has {len(body):,}).",
            field="body",
        )
    unknown = unknown_placeholders(body)
    if unknown:
        names = ", ".join(_braced(n) for n in unknown)
        allowed = ", ".join(_braced(n) for n in PLACEHOLDERS)
        raise ValidationFailed(f"Unknown placeholder {names}. Use one of: {allowed}.", field="body")


def canned_reply_create(
    *, actor: AbstractBaseUser, title: str, body: str, team: Team | None = None
) -> CannedReply:
    """A personal reply (no ``team``) or one shared with ``team``. 403 for a requester or
    for a team the actor is not in (Administrators excepted); 400 naming an unknown
    placeholder, a missing or too long title or body. Audit: ``created``."""
    if not can_use_canned_replies(actor):
        raise ActionForbidden("Only staff keep canned replies.")
    if team is not None and not can_share_with(actor, team):
        raise ActionForbidden(f"Only members of {team} share replies with it.")
    title = (title or "").strip()
    _ensure_text(title, body)
    with transaction.atomic():
        reply = CannedReply.objects.create(
            title=title,
            body=body,
            team=team,
            owner=None if team is not None else actor,
            created_by=actor,
        )
        audit_record(
            target=reply,
            actor=actor,
            action="created",
            changes={
                "title": (None, title),
                "body": (None, body),
                "scope": (None, reply.scope_label),
            },
        )
    return reply


def _locked_for(actor: AbstractBaseUser, reply: CannedReply, verb: str) -> CannedReply:
    """The reply's row, locked (only its own: PostgreSQL locks no nullable side of a join),
    or 403 for one who may not manage it."""
    row = (
        CannedReply.objects.select_for_update(of=("self",)).select_related("team").get(pk=reply.pk)
    )
    if not can_manage_canned_reply(actor, row):
        raise ActionForbidden(f"You may not {verb} this canned reply.")
    return row


def canned_reply_update(
    *, reply: CannedReply, actor: AbstractBaseUser, **fields: Any
) -> CannedReply:
    """Change the title and/or body (400 for any other field: a reply's team or owner is
    fixed). The same checks as creating; 403 for one who may not manage it. Audit:
    ``updated`` with the fields that changed."""
    ensure_editable(fields, EDITABLE)
    with transaction.atomic():
        row = _locked_for(actor, reply, "change")
        title = (fields.get("title", row.title) or "").strip()
        body = fields.get("body", row.body) or ""
        _ensure_text(title, body)
        changes = {
            name: (getattr(row, name), new)
            for name, new in (("title", title), ("body", body))
            if getattr(row, name) != new
        }
        row.title, row.body = title, body
        row.save()
        audit_record(target=row, actor=actor, action="updated", changes=changes)
    return row


def canned_reply_delete(*, reply: CannedReply, actor: AbstractBaseUser) -> None:
    """Remove a reply (403 for one who may not manage it). Audit: ``deleted``
    (on the reply's id, with its title and text, so what was removed can be read back)."""
    with transaction.atomic():
        row = _locked_for(actor, reply, "delete")
        audit_record(
            target=row,
            actor=actor,
            action="deleted",
            changes={"title": (row.title, None), "body": (row.body, None)},
        )
        row.delete()
