"""``{% board_card item draggable board %}``: one card of the board (project and iteration).

A board shows a few hundred cards; rendering each through an included template cost
about 0.15 ms a card in variable lookups alone (40 ms of a 100 ms board at 10 000 items),
so the card is built here once per card as one string (every value escaped). What a
card needs is fetched by ``projects.board`` (``CARD_FIELDS``, ``decorate_cards``)."""

from __future__ import annotations

import html
from typing import Any

from django import template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from core.concurrency import version_of

register = template.Library()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _e(value: Any) -> str:
    """Escaped for HTML text and attributes, as Django's ``escape`` does (the same
    ``html.escape``), without its lazy-string wrapper: a board escapes some 3 000 values."""
    return html.escape(str(value))


@register.simple_tag
def board_card(i: Any, draggable: bool = False, board: bool = False) -> SafeString:
    key = _e(i.key)
    attrs = f' data-item="{key}"'
    if board:
        attrs += f' tabindex="0" data-status="{_e(i.status)}"'
        if draggable:
            move = getattr(i, "move_url", None) or reverse("projects:work_move", args=[i.key])
            attrs += f' data-move="{_e(move)}"'
            # the version the card shows, sent with the move (core.concurrency)
            attrs += f' data-version="{_e(version_of(i))}"'
    prio = _e(i.priority)
    head = (
        f'<a href="{_e(i.get_absolute_url())}" class="key">{key}</a> '
        f'<span class="badge prio-{prio}">P{prio}</span>'
    )
    blocked_by = getattr(i, "blocked_by", None)
    if blocked_by:
        head += (
            f' <span class="blocked" title="Blocked by open {_e(", ".join(blocked_by))}"'
            " data-blocked>⛔ blocked</span>"
        )
    labels = getattr(i, "label_names", None)
    label_html = (
        '<div class="card-labels">'
        + "".join(f'<span class="badge label">{_e(n)}</span> ' for n in labels)
        + "</div>"
        if labels
        else ""
    )
    meta: list[str] = []
    incidents = getattr(i, "open_incident_count", 0)
    if incidents:
        meta.append(
            '<span class="badge major" title="Open incidents linked">'
            f"{_plural(incidents, 'incident')} · "
            f"{_plural(getattr(i, 'affected_requesters', 0), 'requester')}</span>"
        )
    due = getattr(i, "earliest_due", None)
    if due:
        meta.append(
            '<span title="Earliest SLA due among its incidents">'
            f"due {_e(date_format(localtime(due), 'd M H:i'))}</span>"
        )
    tail = [_e(v) for v in (_release(i), _assignee(i)) if v]
    info = " ".join(meta)
    if tail:
        info += (" · " if meta else "") + " · ".join(tail)
    return mark_safe(  # noqa: S308 - every value above is escaped by _e
        f'<div class="card"{attrs}>\n  {head}\n  <div>{_e(i.title)}</div>\n  {label_html}'
        f'<div class="small muted">{info}</div>\n</div>'
    )


def _release(i: Any) -> str:
    release = i.target_release if i.target_release_id else None
    return release.version if release else ""


def _assignee(i: Any) -> str:
    return str(i.assignee) if i.assignee_id else ""
