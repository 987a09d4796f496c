"""What a user may read of each ITSM record's parts (see core.visibility), registered in
ItsmConfig.ready. Staff read everything; a requester reads the public replies and the
steps that tell them what happened to their ticket, not how support organised itself."""

from __future__ import annotations

from typing import Any

from core.roles import is_staff_member
from core.visibility import EVERYTHING, NOTHING, Parts
from core.watchers import is_watching

# What a requester's timeline shows of an incident's audit trail: what happened to their
# incident, not how support organised itself (assignments, escalations, links, SLA events).
REQUESTER_INCIDENT_ACTIONS = frozenset(
    {
        "created",
        "start",
        "hold",
        "resume",
        "resolve",
        "reopen",
        "close",
        "cancel",
        "merge",  # closed as a duplicate: followed under its master
        "workaround_published",
        # The requester is e-mailed when the fix goes live or is withdrawn.
        "fix_released",
        "fix_rolled_back",
    }
)

# A request's requester follows its approval and fulfilment (the page lists both).
REQUESTER_REQUEST_ACTIONS = frozenset(
    {
        "created",
        "request_approval",
        "approval_requested",
        "approval_approved",
        "approval_rejected",
        "approve",
        "reject",
        "start_fulfilment",
        "task_start",
        "task_complete",
        "task_cancel",
        "fulfil",
        "close",
        "cancel",
    }
)


def _requester_parts(user: Any, record: Any, actions: frozenset[str]) -> Parts:
    if is_staff_member(user):
        return EVERYTHING
    if user.is_authenticated and record.requester_id == user.pk:
        return Parts(public_replies=True, history_actions=actions, public_attachments=True)
    return NOTHING


def incident_parts(user: Any, incident: Any) -> Parts:
    """A participant (a colleague the requester added as a watcher, see
    ``core.watchers.may_add_participants``) and the requester of an incident merged into
    this one read what the requester reads."""
    parts = _requester_parts(user, incident, REQUESTER_INCIDENT_ACTIONS)
    if parts == NOTHING and user.is_authenticated:
        from itsm.permissions import follows_merged  # permissions import the models

        if is_watching(user, incident) or follows_merged(user, incident):
            return Parts(
                public_replies=True,
                history_actions=REQUESTER_INCIDENT_ACTIONS,
                public_attachments=True,
            )
    return parts


def request_parts(user: Any, req: Any) -> Parts:
    return _requester_parts(user, req, REQUESTER_REQUEST_ACTIONS)
