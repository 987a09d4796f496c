"""``{% dashboard_link "incidents" %}``: the "Dashboard" link a home or the desk shows,
only to those the dashboard is for (``dashboards.figures.can_view_dashboard``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from dashboards.figures import DASHBOARDS, can_view_dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard_link(context: dict[str, Any], key: str, css: str = "btn") -> str:
    dashboard = DASHBOARDS[key]
    request = context.get("request")
    if request is None or not can_view_dashboard(request.user, dashboard):
        return ""
    return format_html(
        '<a class="{}" href="{}" data-testid="dashboard-link">Dashboard</a>', css, dashboard.url
    )
