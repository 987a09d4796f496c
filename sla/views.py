from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from core.exceptions import ActionForbidden
from core.export import csv_response, wants_csv
from core.roles import is_staff_member
from core.views import DomainErrorMixin
from sla.api.views import parse_period
from sla.reports import BREACH_COLUMNS, GROUPS, breach_rows, sla_breaches, sla_report


class SlaReportPage(LoginRequiredMixin, DomainErrorMixin, View):
    """Compliance per priority, team or service over a period: a chart, a table and the
    list of breaches."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not is_staff_member(request.user):
            raise ActionForbidden("SLA reports are for support staff.")
        group_by = request.GET.get("group_by", "priority")
        if group_by not in GROUPS:
            group_by = "priority"
        start, end = parse_period(request.GET)
        if wants_csv(request):  # the period's breaches, every one (the page lists 200)
            return csv_response(breach_rows(start=start, end=end), BREACH_COLUMNS, "sla-breaches")
        rows = sla_report(start=start, end=end, group_by=group_by)
        chart: dict[str, dict[str, object]] = {}
        for r in rows:
            chart.setdefault(r.group, {})[r.target] = r
        return render(
            request,
            "sla/report.html",
            {
                "rows": rows,
                "chart": chart,
                "breaches": sla_breaches(start=start, end=end),
                "group_by": group_by,
                "groups": list(GROUPS),
                "start": start,
                "end": end,
            },
        )
