"""A saved desk view: a named filter + sort + queue + columns, personal or shared with a
team. The query is kept as the desk's own GET parameters, so a view is exactly a desk URL
(and the API's incident list takes the same parameters)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# The desk's columns, in display order: (key, heading). ``key`` (the ticket key) is always
# shown: it is the row's identity and its link.
DESK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("priority", "Priority"),
    ("status", "Status"),
    ("sla", "SLA"),
    ("service", "Service"),
    ("team", "Team / tier"),
    ("assignee", "Assignee"),
    ("requester", "Requester"),
    ("opened", "Opened"),
    ("age", "Age"),
    ("updated", "Last update"),
)
DEFAULT_COLUMNS: tuple[str, ...] = (
    "title",
    "priority",
    "status",
    "sla",
    "service",
    "team",
    "assignee",
    "age",
    "updated",
)


class SavedView(models.Model):
    name = models.CharField(max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_views",
        help_text="Shared with this team's members; personal when empty.",
    )
    # {"queue": ["team-3"], "priority": ["1", "2"], "ordering": ["sla"], ...}
    query = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDITED_FIELDS = ("name", "team", "query", "columns")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner"),
        ]
        indexes = [models.Index(fields=["team", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_columns(self) -> list[str]:
        return list(self.columns) or list(DEFAULT_COLUMNS)
