"""Ticket pages that work in place (issue 12): the incident and request pages render their
ticket region from one partial for the GET and for every action posted with HTMX (the
page's forms aim at ``#ticket``); ``static/js/ticket.js`` swaps the answer in, refusals
(4xx) included."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.exceptions import DomainError

TICKET_REGION = "ticket"  # the region's element id, sent by htmx as HX-Target

# the error page's words (core/error.html), for a refusal shown at the top of the region
REFUSAL_TITLES = {403: "Not allowed", 404: "Not found", 409: "Not possible now"}


def in_place(request: HttpRequest) -> bool:
    """Whether to answer with the ticket region: an HTMX request aimed at it (or at no
    named element, as an HTMX post from the old reply box was). One aimed elsewhere (a
    queue row's *Assign to me*) keeps its own answer."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and htmx.target in (None, TICKET_REGION)


def refusal_title(exc: DomainError) -> str:
    return REFUSAL_TITLES.get(exc.status_code, "Please check your input")


def posted_reply(request: HttpRequest) -> tuple[str, str]:
    """The reply box's text and side (``public`` unless ``internal`` was chosen)."""
    visibility = "internal" if request.POST.get("visibility") == "internal" else "public"
    return request.POST.get("body", ""), visibility


def reply_kept(exc: DomainError, body: str, visibility: str) -> dict[str, Any]:
    """What the reply box shows after a refused reply: the reason, and what was written
    on which side, kept."""
    return {"comment_error": exc.message, "comment_body": body, "comment_visibility": visibility}
