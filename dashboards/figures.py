"""Which figures each dashboard shows, and who may open it (docs/decisions.md, issue 16).

A figure is built by the app owning its records; a dashboard is a list of figure keys.
The same figure may sit on several dashboards (cached once per filter)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from core import matrix
from core.dashboards import Figure, Filters
from itsm import reports as itsm_reports
from knowledge.selectors import deflections
from projects import reports as project_reports
from sla.reports import sla_trend

FIGURES: dict[str, Callable[[Filters], Figure]] = {
    "backlog_priority": lambda f: itsm_reports.backlog(f, "priority"),
    "backlog_tier": lambda f: itsm_reports.backlog(f, "tier"),
    "sla_trend": sla_trend,
    "times": itsm_reports.response_resolve_times,
    "reopen_rate": itsm_reports.reopen_rate,
    "top_services": itsm_reports.top_services,
    "deflections": deflections,
    "release_incidents": project_reports.release_incidents,
    "third_line_load": project_reports.third_line_load,
    "change_outcomes": itsm_reports.change_outcomes,
}


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: str
    audience: str
    figures: tuple[str, ...]

    @property
    def record(self) -> str:
        return "dashboard"

    @property
    def view_action(self) -> str:
        return f"view the {self.title} dashboard"

    @property
    def export_action(self) -> str:
        return f"export the {self.title} dashboard's figures (CSV)"

    @property
    def url(self) -> str:
        return reverse("dashboards:dashboard", args=[self.key])


DASHBOARDS: dict[str, Dashboard] = {
    d.key: d
    for d in (
        Dashboard(
            "desk",
            "Service desk",
            "agents and their team leads",
            (
                "backlog_priority",
                "backlog_tier",
                "sla_trend",
                "times",
                "reopen_rate",
                "deflections",
            ),
        ),
        Dashboard(
            "incidents",
            "Incidents and problems",
            "Incident and Problem Managers",
            (
                "sla_trend",
                "times",
                "top_services",
                "reopen_rate",
                "backlog_priority",
                "release_incidents",
                "deflections",
            ),
        ),
        Dashboard(
            "changes",
            "Changes and releases",
            "Change and Release Managers",
            ("change_outcomes", "release_incidents", "top_services"),
        ),
        Dashboard(
            "projects",
            "Projects",
            "Project Managers",
            ("third_line_load", "release_incidents"),
        ),
    )
}


def can_view_dashboard(user: Any, dashboard: Dashboard) -> bool:
    return matrix.allows(user, dashboard.record, dashboard.view_action)


def can_export_dashboard(user: Any, dashboard: Dashboard) -> bool:
    return matrix.allows(user, dashboard.record, dashboard.export_action)


def dashboards_for(user: Any) -> list[Dashboard]:
    return [d for d in DASHBOARDS.values() if can_view_dashboard(user, d)]
