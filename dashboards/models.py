"""When the dashboards' roll-ups were last brought up to date (``dashboards.services``)."""

from __future__ import annotations

from django.db import models


class FactsRun(models.Model):
    """The one row of the roll-ups' collection: the moment the last run started reading
    (the next one reads what changed since, a little before it: ``COLLECT_OVERLAP``), and
    what it did. Locked by the run, so two workers never collect at once."""

    key = models.CharField(max_length=20, primary_key=True, default="facts")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    days = models.PositiveIntegerField(default=0, help_text="Days recomputed by the last run.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows written by the last run.")

    def __str__(self) -> str:
        return f"roll-ups collected at {self.started_at:%Y-%m-%d %H:%M:%S}"
