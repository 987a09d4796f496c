"""``{% canned_picker ticket "textarea-id" %}``: the canned-reply picker under a reply box.

The user's replies (their own and their teams') come pre-rendered for this ticket in the
page (one query, no round-trip when one is picked); ``static/js/canned.js`` opens the
picker on the button or on ``;;`` typed in the textarea and inserts the chosen text at the
cursor. Nothing is shown to a user who keeps no canned replies (requesters)."""

from __future__ import annotations

from typing import Any

from django import template

from itsm.models.canned import fill
from itsm.services import canned

register = template.Library()


@register.inclusion_tag("itsm/canned_picker.html", takes_context=True)
def canned_picker(context: template.Context, ticket: Any, textarea_id: str) -> dict[str, Any]:
    user = context["request"].user
    if ticket is None or not canned.can_use_canned_replies(user):
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
