"""``{% canned_picker ticket "textarea-id" %}``: the canned-reply picker under a reply box
(placed in the shared ``core/_comment_box.html``; nothing for records other than incidents
and service requests).

The user's replies (their own and their teams') come pre-rendered for this ticket in the
page (one query, no round-trip when one is picked); ``static/js/canned.js`` opens the
picker on the button or on ``;;`` typed in the textarea and inserts the chosen text at the
cursor. Nothing is shown to a user who keeps no canned replies (requesters)."""

from __future__ import annotations

from typing import Any

from django import template

from itsm.models import Incident, ServiceRequest
from itsm.models.canned import fill
from itsm.services import canned

register = template.Library()


@register.inclusion_tag("itsm/canned_picker.html", takes_context=True)
def canned_picker(context: template.Context, ticket: Any, textarea_id: str) -> dict[str, Any]:
    # The shared comment box is an inclusion tag's template: its context keeps the request
    # as an attribute, not the context processors' ``request`` variable.
    request = getattr(context, "request", None) or context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(ticket, Incident | ServiceRequest) or user is None:
        return {"shown": False}  # replies fill in incidents' and requests' details only
    if not canned.can_use_canned_replies(user):
        return {"shown": False}
    values = canned.placeholder_values(ticket, user)
    items = [
        {
            "id": r.pk,
            "title": r.title,
            "scope": r.scope_label,
            "body": fill(r.body, values),
        }
        for r in canned.canned_replies_usable(user)
    ]
    return {
        "shown": True,
        "items": items,
        "textarea_id": textarea_id,
        "data_id": f"canned-data-{textarea_id}",
    }
