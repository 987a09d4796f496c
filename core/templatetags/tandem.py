from __future__ import annotations

from django import template
from django.http import QueryDict

from core.models import AuditEvent

register = template.Library()

ACTION_WORDS = {
    "created": "raised it",
    "updated": "edited it",
    "assign": "assigned it",
    "start": "started work",
    "hold": "put it on hold",
    "resume": "resumed work",
    "escalate": "escalated it",
    "resolve": "resolved it",
    "reopen": "reopened it",
    "close": "closed it",
    "cancel": "cancelled it",
    "responded": "responded",
    "investigate": "started the investigation",
    "mark_known_error": "marked it a known error",
    "incidents_linked": "linked incidents",
    "incident_unlinked": "unlinked an incident",
    "linked_to_problem": "linked it to a problem",
    "unlinked_from_problem": "unlinked it from its problem",
    "workaround_published": "published a workaround",
    "incidents_resolved": "resolved the linked incidents",
    "submit": "submitted it",
    "assess": "assessed it",
    "request_approval": "sent it for approval",
    "approval_requested": "asked for approval",
    "approval_approved": "approved",
    "approval_rejected": "rejected",
    "cab_approved": "— every approver approved",
    "schedule": "scheduled it",
    "conflict_flagged": "flagged a conflict",
    "implement": "started implementing",
    "complete": "completed it",
    "fail": "marked it failed and backed out",
    "reject": "— rejected",
    "approve": "— approved",
    "start_fulfilment": "started fulfilment",
    "fulfil": "— fulfilled",
    "task_start": "started a task",
    "task_complete": "completed a task",
    "task_cancel": "cancelled a task",
    "caused_by_change": "linked it to the change that caused it",
    "incident_caused": "recorded an incident it caused",
    "sla_warning": "SLA warning",
    "sla_breached": "SLA breached",
    "sla_retargeted": "SLA re-targeted",
}


@register.filter
def actor_label(user: object) -> str:
    if user is None:
        return "Tandem"
    return user.get_full_name() or user.username  # type: ignore[attr-defined]


@register.filter
def audit_sentence(event: AuditEvent) -> str:
    return ACTION_WORDS.get(event.action, event.action.replace("_", " "))


@register.filter
def change_value(value: object) -> str:
    if isinstance(value, dict):
        if "label" in value or "id" in value:
            return str(value.get("label", value.get("id", "")))
        return (
            ", ".join(
                f"{k}: {'yes' if v is True else 'no' if v is False else v}"
                for k, v in value.items()
            )
            or "—"
        )
    if value in (None, ""):
        return "—"
    return str(value)


@register.simple_tag
def query_with(querystring: str, **kwargs: object) -> str:
    """The current query string with some parameters replaced."""
    params = QueryDict(querystring, mutable=True)
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return params.urlencode()


@register.simple_tag
def sort_link(querystring: str, field: str, current: str) -> str:
    """?ordering= for a column header: ascending first, then descending."""
    target = f"-{field}" if current == field else field
    return query_with(querystring, ordering=target, page=None)


@register.filter
def actor_label_or_dash(user: object) -> str:
    return "—" if user is None else actor_label(user)


@register.filter
def dictget(mapping: dict, key: object) -> object:
    return mapping.get(key) if mapping else None


@register.filter
def split(value: str) -> list[str]:
    return value.split()


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as 1h30m / 45m / 2d3h (days of 24 hours)."""
    if seconds is None:
        return "—"
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m"


@register.filter
def transition_pairs(transitions: object) -> list[tuple[str, str]]:
    """django-fsm's available transitions as (name, label) pairs."""
    return [(t.name, t.custom.get("label", t.name)) for t in transitions]  # type: ignore[attr-defined]
