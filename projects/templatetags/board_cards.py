"""``{% board_card item draggable board %}``: one card of the board (project and iteration).

A board shows a few hundred cards; rendering each through an included template cost
about 0.15 ms a card in variable lookups alone (40 ms of a 100 ms board at 10 000 items),
so the card is built here once per card with ``format_html`` (every value escaped). What a
card needs is fetched by ``projects.board`` (``CARD_FIELDS``, ``decorate_cards``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

register = template.Library()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@register.simple_tag
def board_card(i: Any, draggable: bool = False, board: bool = False) -> SafeString:
    key = i.key
    attrs = format_html(' data-item="{}"', key)
    if board:
        attrs += format_html(' tabindex="0" data-status="{}"', i.status)
        if draggable:
            move = getattr(i, "move_url", None) or reverse("projects:work_move", args=[key])
            attrs += format_html(' data-move="{}"', move)
    head = format_html(
        '<a href="{}" class="key">{}</a> <span class="badge prio-{}">P{}</span>',
        i.get_absolute_url(),
        key,
        i.priority,
        i.priority,
    )
    blocked_by = getattr(i, "blocked_by", None)
    if blocked_by:
        head += format_html(
            ' <span class="blocked" title="Blocked by open {}" data-blocked>⛔ blocked</span>',
            ", ".join(blocked_by),
        )
    labels = getattr(i, "label_names", None)
    label_html = (
        format_html(
            '<div class="card-labels">{}</div>',
            format_html_join("", '<span class="badge label">{}</span> ', ((n,) for n in labels)),
        )
        if labels
        else ""
    )
    meta: list[SafeString] = []
    incidents = getattr(i, "open_incident_count", 0)
    if incidents:
        meta.append(
            format_html(
                '<span class="badge major" title="Open incidents linked">{} · {}</span>',
                _plural(incidents, "incident"),
                _plural(getattr(i, "affected_requesters", 0), "requester"),
            )
        )
    due = getattr(i, "earliest_due", None)
    if due:
        meta.append(
            format_html(
                '<span title="Earliest SLA due among its incidents">due {}</span>',
                date_format(localtime(due), "d M H:i"),
            )
        )
    tail = [format_html("{}", v) for v in (_release(i), _assignee(i)) if v]
    info = mark_safe(" ".join(meta))  # noqa: S308 - each part built by format_html
    if tail:
        info = format_html("{}{}{}", info, " · " if meta else "", mark_safe(" · ".join(tail)))  # noqa: S308
    return format_html(
        '<div class="card"{}>\n  {}\n  <div>{}</div>\n  {}'
        '<div class="small muted">{}</div>\n</div>',
        attrs,
        head,
        i.title,
        label_html,
        info,
    )


def _release(i: Any) -> str:
    release = i.target_release if i.target_release_id else None
    return release.version if release else ""


def _assignee(i: Any) -> str:
    return str(i.assignee) if i.assignee_id else ""
