"""The dashboard pages: one per audience (``dashboards.figures.DASHBOARDS``), filtered by
a GET form (period, service, team); each figure a chart with its list, table and CSV."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.dashboards import cached_figure, parse_filters
from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.views import DomainErrorMixin
from dashboards.figures import (
    DASHBOARDS,
    FIGURES,
    can_export_dashboard,
    can_view_dashboard,
    dashboards_for,
)
from dashboards.services import facts_as_of


@login_required
def dashboard_index(request: HttpRequest) -> HttpResponse:
    """The first dashboard the user may open."""
    mine = dashboards_for(request.user)
    if not mine:
        return render(
            request,
            "core/error.html",
            {"error": ActionForbidden("No dashboard is for your role.")},
            status=403,
        )
    return redirect(mine[0].url)


class DashboardPage(LoginRequiredMixin, DomainErrorMixin, View):
    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        dashboard = DASHBOARDS.get(key)
        if dashboard is None:
            raise NotFound("No such dashboard.")
        if not can_view_dashboard(request.user, dashboard):
            raise ActionForbidden(f"The {dashboard.title} dashboard is for {dashboard.audience}.")
        form, filters = parse_filters(request.GET)
        if request.GET.get("export") == "csv":
            if not can_export_dashboard(request.user, dashboard):
                raise ActionForbidden("You may not export this dashboard.")
            name = request.GET.get("figure", "")
            if name not in dashboard.figures:
                raise ValidationFailed("figure: not a figure of this dashboard.", field="figure")
            return cached_figure(name, filters, FIGURES[name]).csv_response()
        can_export = can_export_dashboard(request.user, dashboard)
        figures: list[dict[str, Any]] = []
        for name in dashboard.figures:
            figure = cached_figure(name, filters, FIGURES[name])
            figures.append(
                {
                    "figure": figure,
                    "data": figure.chart_data(),
                    "json_id": f"data-{name}",
                    "csv": f"?{filters.query(export='csv', figure=name)}" if can_export else "",
                }
            )
        return render(
            request,
            "dashboards/dashboard.html",
            {
                "dashboard": dashboard,
                "dashboards": dashboards_for(request.user),
                "form": form,
                "filters": filters,
                "figures": figures,
                "as_of": facts_as_of(),
            },
        )
