"""The desk's per-row questions, answered by the permission functions that guard the actions
(``{% load desk %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from itsm import permissions

register = template.Library()


@register.filter
def may_take(incident: Any, user: Any) -> bool:
    """Show *Assign to me* on a queue row: ``permissions.can_take``, which
    ``incident_take`` checks (no query per row)."""
    return permissions.can_take(user, incident)
