"""``{% export_csv_link %}``: the list page's own URL with its current filters and
``export=csv`` (core.export), so the file holds what the page shows, every page of it."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def export_csv_url(context: dict[str, Any]) -> str:
    request = context["request"]
    params = request.GET.copy()
    for name in ("page", "poll"):  # every page; a live queue's poll is no filter
        params.pop(name, None)
    params["export"] = "csv"
    return f"{request.path}?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def export_csv_link(context: dict[str, Any], small: bool = False) -> str:
    return format_html(
        '<a class="btn{} export-csv" href="{}" data-export="csv" '
        'title="Download every row of this list, as filtered, as CSV">Export CSV</a>',
        " btn-small" if small else "",
        export_csv_url(context),
    )
