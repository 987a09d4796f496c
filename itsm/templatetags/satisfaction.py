"""``{% satisfaction_question ticket as question %}``: the question of a resolved ticket's
latest resolution, for its requester only (staff and other viewers get None)."""

from __future__ import annotations

from typing import Any

from django import template

from itsm.services.satisfaction import current_question

register = template.Library()


@register.simple_tag(takes_context=True)
def satisfaction_question(context: template.Context, ticket: Any) -> Any:
    user = context.get("user")
    if ticket is None or user is None or not user.is_authenticated:
        return None
    if ticket.requester_id != user.pk:
        return None
    return current_question(ticket)
