"""``{% dev_links_for item as panel %}``: what a work item page's Development panel
shows (its commits, branches and pull requests) and whether the user may add to it,
asked with the same permission the dev link services check."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def dev_links_for(context: template.Context, item: Any) -> dict[str, Any]:
    from projects.project_views import dev_links_panel

    return dev_links_panel(context["request"].user, item)
