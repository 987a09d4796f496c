"""Incident counts per (team, assignee, state, priority), kept by the database.

A queue's counts must not scan the queue (300 000 open incidents in one team at a large
install). Every insert, delete or change of those four columns of ``itsm_incident`` appends
a ``+1`` / ``-1`` row here, written by a database trigger in the same transaction as the
change, so the counts are exact whichever code path wrote the incident (a service, a bulk
update, an import). Append-only: two transactions never wait for each other on a hot
counter row (no lock, so no deadlock). ``incident_counts_compact`` folds the rows into one
per key now and then; a read sums the rows of its keys. See docs/decisions.md.
"""

from __future__ import annotations

from django.db import models


class IncidentCount(models.Model):
    # Plain integers, not foreign keys: the trigger writes them as they are, and a
    # deleted team or user must not block or cascade into counts.
    team_id = models.BigIntegerField(null=True)
    assignee_id = models.IntegerField(null=True)
    status = models.CharField(max_length=50)
    priority = models.PositiveSmallIntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["team_id", "status"], name="incident_count_team_idx"),
            models.Index(fields=["assignee_id", "status"], name="incident_count_assignee_idx"),
        ]

    def __str__(self) -> str:
        key = f"team {self.team_id} · user {self.assignee_id} · {self.status} P{self.priority}"
        return f"{key}: {self.n:+d}"
