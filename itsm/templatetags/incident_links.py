"""``{% incident_links_panel incident %}``: the incident page's Linked incidents panel —
what it was merged into (its requester sees this too), what was merged into it, its
major incident or its children with their state, related incidents — and, for those who
work it, the forms *Link related*, *Add child incident* (a major incident) and *Merge
into…*, offered by the same rule the services check (``permissions.can_work_incident``).

A refused form comes back on the page (``itsm.views.incident_links``) with the panel's
form open, what was typed kept and the reason: ``links_form``, ``links_posted`` and
``links_error`` in the page's context."""

from __future__ import annotations

from typing import Any

from django import template

from itsm import permissions, selectors

register = template.Library()


@register.inclusion_tag("itsm/_incident_links.html", takes_context=True)
def incident_links_panel(context: template.Context, incident: Any) -> dict[str, Any]:
    user = context["request"].user
    links = selectors.incident_links(user, incident)
    works = permissions.can_work_incident(user, incident)
    children = list(links["children"])
    duplicates = list(links["duplicates"])
    related = list(links["related"])
    can_link = works and incident.is_open
    return {
        "incident": incident,
        "links": links,
        "children": children,
        "duplicates": duplicates,
        "related": related,
        "can_link": can_link,
        "can_merge": can_link and not children,
        "can_add_child": can_link and incident.major_incident and incident.parent_id is None,
        "can_unlink": works,
        "shown": bool(links["duplicate_of"] or links["parent"] or children or duplicates or related)
        or can_link,
        "open_form": context.get("links_form", ""),
        "posted": context.get("links_posted", {}),
        "error": context.get("links_error"),
        "csrf_token": context.get("csrf_token"),
        # the page's version: Merge closes the incident, refused if it changed meanwhile
        "record_version": context.get("record_version", ""),
        "record_seen": context.get("record_seen", ""),
    }
