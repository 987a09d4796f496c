"""The canned-reply picker under the shared reply box (``core/_comment_box.html`` asks for
the add-ons registered under ``"comment_box"``; itsm registers this one in its
``apps.py``, so core imports nothing of itsm). Nothing for records other than incidents
and service requests, nor for a user who keeps no canned replies (requesters).

The user's replies (their own and their teams') come pre-rendered for this ticket in the
page (one query, no round-trip when one is picked); ``static/js/canned.js`` opens the
picker on the button or on ``;;`` typed in the textarea and inserts the chosen text at the
cursor."""

from __future__ import annotations

from typing import Any

from itsm.models import Incident, ServiceRequest
from itsm.models.canned import fill
from itsm.services import canned

TEXTAREA_ID = "comment-body"  # the shared reply box's textarea


def picker_panel(request: Any, ticket: Any) -> dict[str, Any] | None:
    user = getattr(request, "user", None)
    if not isinstance(ticket, Incident | ServiceRequest) or user is None:
        return None  # replies fill in incidents' and requests' details only
    if not canned.can_use_canned_replies(user):
        return None
    values = canned.placeholder_values(ticket, user)
    items = [
        {"id": r.pk, "title": r.title, "scope": r.scope_label, "body": fill(r.body, values)}
        for r in canned.canned_replies_usable(user)
    ]
    return {
        "items": items,
        "textarea_id": TEXTAREA_ID,
        "data_id": f"canned-data-{TEXTAREA_ID}",
    }
