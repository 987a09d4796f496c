"""The columns of the work item CSV export (the backlog page and the work item API)."""

from __future__ import annotations

from core.export import Column, choice_col, col, person_col
from projects.models import WorkItem, WorkItemStatus
from projects.models.planning import Kind, Severity

WORK_ITEM_COLUMNS: list[Column] = [
    Column("Key", ("kind", "number"), lambda kind, n: f"{WorkItem.PREFIXES[kind]}-{n}"),
    choice_col("Kind", "kind", Kind.choices),
    col("Project", "project__code"),
    col("Title", "title"),
    col("Priority", "priority", lambda p: f"P{p}" if p else ""),
    choice_col("Severity", "severity", Severity.choices),
    choice_col("Status", "status", WorkItemStatus.choices),
    person_col("Assignee", "assignee"),
    col("Iteration", "iteration__name"),
    col("Target release", "target_release__version"),
    col("Estimate (h)", "estimate_hours"),
    col("Open incidents", "open_incident_count"),
    col("Requesters affected", "affected_requesters"),
    col("Earliest SLA due", "earliest_due"),
    col("Opened", "created_at"),
    col("Last update", "updated_at"),
]
