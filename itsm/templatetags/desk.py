"""The desk's per-row questions, answered by the permission functions that guard the actions,
and the queue's rows built in one pass of Python (``{% load desk %}``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from html import escape
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_formatted
from django.utils.functional import SimpleLazyObject, empty
from django.utils.html import conditional_escape as esc
from django.utils.safestring import SafeString, mark_safe

from core.concurrency import version_of
from itsm import permissions
from itsm.models import IncidentStatus

register = template.Library()

# A key that no incident has: its URL is split around it once per page, not reversed per row.
_SLOT = "KEY-SLOT"


@register.filter
def may_take(incident: Any, user: Any) -> bool:
    """Show *Assign to me* on a queue row: ``permissions.can_take``, which
    ``incident_take`` checks (no query per row)."""
    return permissions.can_take(user, incident)


@register.simple_tag
def choice_options(choices: Iterable[tuple[Any, Any]], current: Any) -> SafeString:
    """``<option>`` for each ``(value, label)``, ``selected`` where the value reads as
    ``current`` does (``stringformat:'s'`` on both sides): the desk's assignee list has up
    to two hundred people, a template loop comparing each one."""
    chosen = _s(current)
    return mark_safe(  # noqa: S308  (values and labels escaped)
        "".join(
            f'<option value="{esc(value)}" {"selected" if _s(value) == chosen else ""}>'
            f"{esc(label)}</option>"
            for value, label in choices
        )
    )


@register.simple_tag
def bulk_assign_groups(teams: Iterable[tuple[Any, list[Any]]]) -> SafeString:
    """The bulk bar's *Assign to* groups: each team's queue, then its people (``(id,
    name)``, of my own teams), as the template loop wrote them; thirty teams of a
    template loop each cost more than the rest of the bar."""
    out = []
    for team, members in teams:
        name = esc(team.name)
        people = "".join(
            f'<option value="{team.pk}:{pk}">{esc(person)} ({name})</option>'
            for pk, person in members
        )
        out.append(
            f'\n      <optgroup label="{name} · T{team.tier}">'
            f'\n        <option value="{team.pk}:">{name} queue (nobody)</option>'
            f"\n        {people}\n      </optgroup>\n      "
        )
    return mark_safe("".join(out))  # noqa: S308  (names escaped)


@register.simple_tag(takes_context=True)
def assignee_groups(context: template.Context) -> SafeString:
    """The incident page's *Assign* form: an ``<optgroup>`` per team (``teams``) with its
    active members (``team_members``: ``{team id: [(user id, name)]}``, read as plain
    values by the view), me marked ``data-me``, the refused post's choice ``selected``.
    A template loop over three hundred people cost a third of the page."""
    me = getattr(context.get("user"), "pk", None)
    posted = context.get("posted") or {}
    chosen = _s(posted.get("assignee")) if context.get("open_form") == "assign" else None
    members = context.get("team_members") or {}
    out, mine = [], 'data-me="1"'
    for team in context.get("teams") or ():
        options = "".join(
            f'<option value="{pk}" {mine if pk == me else ""}'
            f"{' selected' if chosen is not None and _s(pk) == chosen else ''}>"
            f"{escape(label)}</option>"
            for pk, label in members.get(team.pk, ())
        )
        out.append(f'<optgroup label="{escape(team.name)}">{options}</optgroup>')
    return mark_safe("".join(out))  # noqa: S308  (names escaped)


def _s(value: Any) -> str:
    """``value|stringformat:'s'``"""
    return "%s" % (str(value) if isinstance(value, tuple) else value)  # noqa: UP031


def _url_maker(name: str) -> Callable[[str], str]:
    before, after = reverse(name, args=[_SLOT]).split(_SLOT)
    return lambda key: f"{before}{escape(key)}{after}"


def _local_dates() -> Callable[[datetime, bool], str]:
    """``moment|date:"d M H:i"`` (or ``"d M Y H:i"`` with ``year``) in the current time
    zone, without Django's general formatter (the slowest part of a row); the month's
    name is translated once per month."""
    tz, months = timezone.get_current_timezone(), {}

    def when(moment: datetime, year: bool = False) -> str:
        t = moment.astimezone(tz) if timezone.is_aware(moment) else moment
        if t.month not in months:
            months[t.month] = date_formatted(t, "M")
        y = f" {t.year}" if year else ""
        return f"{t.day:02d} {months[t.month]}{y} {t.hour:02d}:{t.minute:02d}"

    return when


def _person(user: Any) -> str:
    return escape(user.get_full_name() or user.username)


def clock_badges(clocks: Iterable[Any], when: Callable[[datetime, bool], str]) -> str:
    """``sla/_clocks.html`` for a row's ``ClockView`` list, as one string."""
    out = []
    for c in clocks:
        title = (
            f"{escape(c.target[:1].upper() + c.target[1:])} SLA ({escape(c.clock.policy.name)}): "
            f"{c.percent}% of {escape(c.target_label)} used"
        )
        if c.due_at and c.level != "met":
            title += f", due {when(c.due_at)}"
            if c.due_if_resumed:
                title += " if resumed now"
        label = "Resp" if c.target == "response" else "Res"
        paused = "paused · " if c.level == "paused" else ""
        out.append(
            f'<span class="clock {escape(c.level)}" title="{title}">'
            f"{label} {paused}{escape(c.remaining_label)}</span>"
        )
    out.append("\n")  # the include's own line end
    return "".join(out)


@register.simple_tag(takes_context=True)
def queue_rows(context: template.Context) -> SafeString:
    """The ``<tbody>`` rows of the desk's queue (``page``, ``columns``, ``bulk``), as the
    template loop wrote them, byte for byte, in one pass of Python: 25 rows of a dozen
    columns cost more as a template than the rest of the page. Each row's clock views,
    ``extra`` fields and age labels come from ``render_desk``; the user's teams and roles
    are read once for every row's *Assign to me*."""
    page = context.get("page")
    rows = page.object_list if page is not None else []
    columns = set(context.get("columns") or ())
    bulk = bool(context.get("bulk"))
    request = context.get("request")
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject):  # once, not an indirection per row
        if user._wrapped is empty:  # type: ignore[attr-defined]
            user._setup()  # type: ignore[attr-defined]
        user = user._wrapped  # type: ignore[attr-defined]
    csrf = str(context.get("csrf_token") or "")
    csrf_input = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf)}">'
        if csrf and csrf != "NOTPROVIDED"
        else ""
    )
    return_to = escape(str(context.get("return_to", "")))
    detail_url = _url_maker("itsm:incident_detail")
    take_url = _url_maker("itsm:incident_take")
    when = _local_dates()
    status_labels = {value: escape(str(label)) for value, label in IncidentStatus.choices}
    pad = "\n        "
    show = columns.__contains__
    out = []
    for inc in rows:
        key = escape(inc.key)
        updated = inc.updated_at
        row = [
            f'\n      <tr data-key="{key}" data-priority="{inc.priority}" '
            f'data-version="{int(updated.timestamp())}.{updated.microsecond:06d}">'
        ]
        row.append(
            f'{pad}<td class="pick"><input type="checkbox" class="bulk-pick" name="incidents" '
            f'value="{key}" form="bulk-form" aria-label="Select {key}"></td>'
            if bulk
            else pad
        )
        row.append(f'{pad}<td class="key"><a href="{detail_url(inc.key)}">{key}</a></td>')
        extra = getattr(inc, "extra", None) or {}
        cell = ""
        if show("title"):
            cell = f"<td>{escape(inc.title)}"
            if inc.major_incident:
                cell += ' <span class="badge major">Major</span>'
            hypercare = extra.get("hypercare")
            if hypercare:
                raised = ", ".join(
                    f"{escape(str(h['release']))} ({escape(str(h['team']))})" for h in hypercare
                )
                cell += (
                    f' <span class="badge hypercare" title="Raised during the hypercare of '
                    f'{raised}">Hypercare</span>'
                )
            cell += '<div class="muted small">'
            if not show("requester"):
                cell += _person(inc.requester)
            defect = extra.get("defect")
            if defect:
                dkey = escape(str(defect["key"]))
                target = defect.get("target_release")
                release = f", release {escape(str(target))}" if target else ""
                cell += (
                    f' · <a href="/work/{dkey}/" class="badge ws-{escape(str(defect["status"]))}"'
                    f' title="The linked defect{release}">{dkey}</a>'
                )
            cell += "</div></td>"
        row.append(pad + cell)
        row.append(
            pad
            + (
                f'<td><span class="badge prio-{inc.priority}">P{inc.priority}</span></td>'
                if show("priority")
                else ""
            )
        )
        row.append(
            pad
            + (
                f'<td><span class="badge st-{escape(inc.status)}">'
                f"{status_labels.get(inc.status, escape(inc.status))}</span></td>"
                if show("status")
                else ""
            )
        )
        row.append(pad + (f"<td>{clock_badges(inc.clock_views, when)}</td>" if show("sla") else ""))
        row.append(pad + (f"<td>{escape(str(inc.service))}</td>" if show("service") else ""))
        row.append(
            pad
            + (
                f"<td>{escape(str(inc.team)) if inc.team else '—'} "
                f'<span class="badge tier">T{inc.tier}</span></td>'
                if show("team")
                else ""
            )
        )
        cell = ""
        if show("assignee"):
            assignee = "—" if inc.assignee is None else _person(inc.assignee)
            cell = f"<td>{assignee}"
            if permissions.can_take(user, inc):
                cell += (
                    f' <form method="post" action="{take_url(inc.key)}" class="inline-form">'
                    f'{csrf_input}<input type="hidden" name="next" value="{return_to}">'
                    # the version the row shows (core.concurrency): taken meanwhile, refused
                    f'<input type="hidden" name="record_version" value="{version_of(inc)}">'
                    f'<button class="btn btn-small" type="submit" data-action="take" '
                    f'data-take="{key}">Assign to me</button></form>'
                )
            cell += "</td>"
        row.append(pad + cell)
        row.append(
            pad
            + (
                f'<td>{_person(inc.requester)}<div class="muted small">'
                f"{escape(inc.requester.email)}</div></td>"
                if show("requester")
                else ""
            )
        )
        row.append(
            pad + (f'<td class="muted">{when(inc.created_at)}</td>' if show("opened") else "")
        )
        row.append(
            pad
            + (
                f'<td class="muted" title="Opened {when(inc.created_at, True)}">'
                f"{escape(inc.age_label)}</td>"
                if show("age")
                else ""
            )
        )
        row.append(
            pad
            + (
                f'<td class="muted" title="Last change {when(updated, True)}">'
                f"{escape(inc.idle_label)}</td>"
                if show("updated")
                else ""
            )
        )
        row.append("\n      </tr>\n    ")
        out.append("".join(row))
    return mark_safe("".join(out))  # noqa: S308  (every value above is escaped)
