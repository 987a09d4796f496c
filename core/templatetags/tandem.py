from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe

from core.models import AuditEvent

register = template.Library()

ACTION_WORDS = {
    "created": "raised it",
    "updated": "edited it",
    "deleted": "deleted it",
    "assign": "assigned it",
    "start": "started work",
    "hold": "put it on hold",
    "resume": "resumed work",
    "escalate": "escalated it",
    "resolve": "resolved it",
    "reopen": "reopened it",
    "close": "closed it",
    "cancel": "cancelled it",
    "attachment_added": "attached a file",
    "planned": "planned it",
    "carried_over": "carried it over",
    "wip_limits_set": "set the board's WIP limits",
    "attachment_removed": "removed a file",
    "watcher_added": "added a watcher",
    "watcher_removed": "removed a watcher",
    "responded": "responded",
    "investigate": "started the investigation",
    "mark_known_error": "marked it a known error",
    "incidents_linked": "linked incidents",
    "incident_unlinked": "unlinked an incident",
    "linked_to_problem": "linked it to a problem",
    "unlinked_from_problem": "unlinked it from its problem",
    "workaround_published": "published a workaround",
    "incidents_resolved": "resolved the linked incidents",
    "merge": "closed it as a duplicate",
    "merged_from": "merged a duplicate into it",
    "related_added": "linked a related incident",
    "related_removed": "unlinked a related incident",
    "parent_set": "made it part of a major incident",
    "parent_cleared": "took it out of its major incident",
    "child_added": "added a child incident",
    "child_removed": "detached a child incident",
    "children_resolved": "resolved the child incidents",
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
    # links and consequences recorded by the apps above itsm
    "article_linked": "linked an article",
    "change_linked": "linked a change",
    "defect_linked": "linked a defect",
    "enhancement_linked": "linked an enhancement",
    "incident_linked": "linked an incident",
    "linked_to_defect": "linked it to a defect",
    "problem_linked": "linked a problem",
    "fix_planned": "— a fix is planned",
    "fix_released": "— the fix went live",
    "fix_rolled_back": "— the fix was rolled back",
    "hypercare": "— raised during a release's hypercare",
    "emergency_decision": "recorded the emergency-change decision",
    "uat_signed_off": "signed off UAT",
    "deploying_change": "named the deploying change",
    "flagged": "flagged it for review",
    "reviewed": "reviewed it",
    "time_logged": "logged time",
    # recorded by the issue 10 work done in parallel with the words above
    "emergency_decision_confirmed": "confirmed the emergency-change decision",
    "emergency_decision_contested": "contested the emergency-change decision",
    "items_moved_out": "moved unfinished items out of the release",
    "moved_out": "moved it out of its release",
    "outside_window": "— implemented outside its approved window",
    "release_rolled_back": "— a release shortly before it was rolled back",
    "service_role_assigned": "named a role holder",
    "config_created": "added it",
    "config_changed": "changed its settings",
    "config_deleted": "deleted it",
    "roles_synced": "took their roles from single sign-on",
    "signed_in": "signed in",
    "sign_in_failed": "failed to sign in",
    "locked_out": "was locked out after failed sign-ins",
    "revoked": "revoked it",
    "service_role_removed": "removed a role holder",
    "unflagged": "withdrew the review flag",
}


@register.filter
def actor_label(user: object) -> str:
    if user is None:
        return "Tandem"
    return user.get_full_name() or user.username  # type: ignore[attr-defined]


def _model_of(event: AuditEvent) -> type[models.Model] | None:
    # cached by ContentType's manager: no query per timeline row
    return ContentType.objects.get_for_id(event.content_type_id).model_class()


def _transition_labels(model: type[models.Model] | None) -> dict[str, str]:
    """Every django-fsm transition of the model by name, with its own label."""
    from django_fsm import FSMFieldMixin

    if model is None:
        return {}
    labels: dict[str, str] = {}
    for field in model._meta.concrete_fields:
        if isinstance(field, FSMFieldMixin):
            for t in field.get_all_transitions(model):
                labels.setdefault(t.name, t.custom.get("label", t.name.replace("_", " ")))
    return labels


@register.filter
def audit_sentence(event: AuditEvent) -> str:
    """What the actor did, in words: Tandem's phrase for the action, else the label the
    transition carries (``start_development`` → "Start development"), else the name."""
    if event.action in ACTION_WORDS:
        return ACTION_WORDS[event.action]
    label = _transition_labels(_model_of(event)).get(event.action)
    if label:
        return f"· {label}"
    return event.action.replace("_", " ")


@register.simple_tag
def transition_label(obj: models.Model, name: str) -> str:
    """The label a transition of ``obj`` declares (for pages that hold transition names)."""
    return _transition_labels(type(obj)).get(name, name.replace("_", " ").capitalize())


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) else None


def when_label(value: datetime | date) -> str:
    """A moment as people read it: local time, e.g. "25 Nov 2026 09:11"."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, "j M Y H:i")
    return date_format(value, "j M Y")


def _display(field: models.Field | None, value: Any) -> str:
    """One audited value as a person reads it: a choice's label, a date in local time,
    yes/no, a record's name."""
    if value in (None, "", [], {}):
        if field is not None and field.choices:
            blank = dict(field.flatchoices).get("")
            if blank:
                return str(blank)
        return "—"
    if isinstance(value, dict) and ("label" in value or "id" in value):
        return str(value.get("label", value.get("id", "")))
    if field is not None and field.choices and not isinstance(value, (dict, list)):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        moment = None
        if isinstance(field, models.DateTimeField) or (field is None and "T" in value):
            try:
                moment = parse_datetime(value)
            except ValueError:
                moment = None
        if moment is None and isinstance(field, models.DateField):
            try:
                moment = parse_date(value)
            except ValueError:
                moment = None
        if moment is not None:
            return when_label(moment)
    return change_value(value)


@register.filter
def audit_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """An audit row's changes as (field label, old, new) in people's words: the field's
    verbose name, choices by their label, dates in local time."""
    model = _model_of(event)
    pairs, people = _change_pairs(event, model)
    # people by the name they go by, not their username: read for the whole timeline at
    # once when it was (``preload_audit_people``), else one query for this row
    names = getattr(event, "_people_labels", None)
    if names is None:
        names = _people_labels(people)

    # a model may say its own values (a questionnaire's answers) where the shared rules
    # would print raw keys
    own_words = getattr(model, "audit_display", None)

    def shown(name: str, field: models.Field | None, value: Any) -> str:
        if _is_person(field) and isinstance(value, dict) and value.get("id") in names:
            return names[value["id"]]
        if own_words is not None and value not in (None, "", [], {}):
            said = own_words(name, value)
            if said is not None:
                return said
        return _display(field, value)

    rows = []
    for name, field, old, new in pairs:
        label = str(field.verbose_name) if field is not None else name.replace("_", " ")
        rows.append(
            (label[:1].upper() + label[1:], shown(name, field, old), shown(name, field, new))
        )
    return rows


def _change_pairs(
    event: AuditEvent, model: type[models.Model] | None
) -> tuple[list[tuple[str, models.Field | None, Any, Any]], set[int]]:
    """The row's (field name, field, old, new) and the ids of the people it names."""
    pairs = []
    people: set[int] = set()
    for name, pair in (event.changes or {}).items():
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        field = _field(model, name)
        if _is_person(field):
            people |= {v["id"] for v in (old, new) if isinstance(v, dict) and v.get("id")}
        pairs.append((name, field, old, new))
    return pairs, people


def _people_labels(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.pk: actor_label(u) for u in get_user_model().objects.filter(pk__in=ids)}


def preload_audit_people(events: list[AuditEvent]) -> None:
    """Name the people every row's changes mention in one query, for ``audit_changes``
    (a timeline of assignments would otherwise ask once per row)."""
    # not the rows whose changes the timeline leaves out (itsm/_timeline.html): creation
    # and the SLA engine's own rows
    shown = [e for e in events if e.changes and e.action != "created" and e.action[:4] != "sla_"]
    rows = [(e, _change_pairs(e, _model_of(e))[1]) for e in shown]
    names = _people_labels(set().union(*(ids for _, ids in rows)) if rows else set())
    for event, _ in rows:
        event._people_labels = names  # type: ignore[attr-defined]


def _is_person(field: models.Field | None) -> bool:
    return (
        isinstance(field, models.ForeignKey) and field.related_model is get_user_model()  # type: ignore[comparison-overlap]
    )


@register.filter
def state_label(event: AuditEvent, value: str) -> str:
    """A state of the audited record by its label ("in_progress" → "In progress")."""
    field = _field(_model_of(event), "status")
    if field is not None and field.choices and value not in dict(field.flatchoices):
        # a state of something else the row is about (a request's task)
        return str(value).replace("_", " ").capitalize()
    return _display(field, value)


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
    """Wall-clock seconds as 1h30m / 45m / 2d3h (days of 24 hours). Not for business
    time: an SLA's targets and elapsed time use ``business_duration``."""
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
def business_duration(seconds: float | None, clock_view: Any) -> str:
    """Business seconds in the clock's own terms (working days of its calendar)."""
    if seconds is None:
        return "—"
    return clock_view.business(seconds)


@register.filter
def transition_pairs(transitions: object) -> list[tuple[str, str]]:
    """django-fsm's available transitions as (name, label) pairs."""
    return [(t.name, t.custom.get("label", t.name)) for t in transitions]  # type: ignore[attr-defined]


@register.filter(is_safe=True)
def markdown(text: str | None) -> SafeString:
    """Long text a user wrote, as Markdown rendered and sanitised by ``core.markdown``
    (one renderer for every record), with ``@mentions`` highlighted. The ``md`` wrapper
    resets ``white-space: pre-wrap`` so rendered line breaks are not doubled."""
    from core.markdown import render_rich_text

    return mark_safe(f'<div class="md">{render_rich_text(text or "")}</div>')  # noqa: S308


@register.simple_tag(takes_context=True)
def timeline_list(context: template.Context) -> SafeString:
    """The activity list of ``timeline`` (``core.selectors.TimelineEntry``, with ``parts``
    saying whether history rows show their field changes) as HTML, in one pass of Python:
    as a template loop a busy ticket's fifty rows cost more than the rest of the page.
    The comments' Markdown is read from the cache in one round trip."""
    from django.utils.dateformat import format as date_formatted
    from django.utils.html import conditional_escape as esc

    from core.markdown import highlight_mentions, render_markdown_many

    entries = context.get("timeline") or []
    details = bool(getattr(context.get("parts"), "history_details", False))
    comments = [e.item for e in entries if e.kind == "comment"]
    bodies = iter(render_markdown_many([c.body or "" for c in comments]))

    tz, months = timezone.get_current_timezone(), {}

    def when(moment: datetime) -> str:
        """``moment|date:"d M Y H:i"`` in local time, without Django's general formatter
        (the slowest part of a row)."""
        t = moment.astimezone(tz) if timezone.is_aware(moment) else moment
        if t.month not in months:  # "M": the month's three letters, in the active language
            months[t.month] = date_formatted(t, "M")
        return f"{t.day:02d} {months[t.month]} {t.year} {t.hour:02d}:{t.minute:02d}"

    out = ['<ul class="timeline">']
    for entry in entries:
        item = entry.item
        if entry.kind == "comment":
            side = "reply" if item.public else "internal note"
            out.append(
                f'<li class="comment {"" if item.public else "internal"}">'
                f'<div class="meta"><strong>{esc(actor_label(item.author))}</strong> · {side}'
                f" · {when(entry.at)}</div>"
                f'<div class="body"><div class="md">{highlight_mentions(next(bodies))}</div>'
                "</div></li>"
            )
            continue
        meta = f"<strong>{esc(actor_label(item.actor))}</strong> {esc(audit_sentence(item))}"
        if item.from_state and item.to_state and item.from_state != item.to_state:
            meta += (
                f" · {esc(state_label(item, item.from_state))}"
                f" → {esc(state_label(item, item.to_state))}"
            )
        row = [f'<li><div class="meta">{meta} · {when(entry.at)}</div>']
        if item.comment:
            row.append(f'<div class="body">{esc(item.comment)}</div>')
        if details and item.action != "created" and item.action[:4] != "sla_":
            row += [
                f'<div class="small muted">{esc(label)}: {esc(old)} → {esc(new)}</div>'
                for label, old, new in audit_changes(item)
            ]
        row.append("</li>")
        out.append("".join(row))
    if not entries:
        out.append('<li class="muted">No activity yet.</li>')
    out.append("</ul>")
    return mark_safe("\n".join(out))  # noqa: S308  (every value above is escaped)


@register.filter
def record_version(obj: models.Model) -> str:
    """The version of a record in a list whose rows each post a form (a review queue):
    ``core.concurrency.version_of``, the same as a record page's ``record_version``."""
    from core.concurrency import version_of

    return version_of(obj)
