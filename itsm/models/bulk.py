"""Bulk actions on incidents: one job per request, one result row per ticket.

The job records what was asked (who, which action, its parameters, which tickets) and how
far it got; each ticket's outcome is a ``BulkJobResult`` row written in the SAME
transaction as the ticket's service call, so a job run twice (a redelivered Celery
message, a worker killed half-way) skips what is done and never applies an action twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BulkAction(models.TextChoices):
    ASSIGN = "assign", "Assign"
    TRANSITION = "transition", "Transition"
    LINK_PROBLEM = "link_problem", "Link to a problem"
    ADD_WATCHER = "add_watcher", "Add a watcher"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkJob(models.Model):
    """One bulk action over up to ``MAX_TICKETS`` incidents, written by
    ``itsm.services.bulk`` only."""

    MAX_TICKETS = 500

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    action = models.CharField(max_length=20, choices=BulkAction.choices)
    params = models.JSONField(default=dict, blank=True)
    incident_ids = models.JSONField(default=list, help_text="In the order they were chosen.")
    status = models.CharField(
        max_length=10, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED
    )
    done_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved on as the run progresses: a running job whose heartbeat is old was abandoned
    # by a dead worker, and a redelivered message may take it over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Bulk {self.action} #{self.pk} ({self.status})"

    @property
    def total(self) -> int:
        return len(self.incident_ids)

    @property
    def is_finished(self) -> bool:
        return self.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED)

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.done_count / self.total)


class BulkJobResult(models.Model):
    """What happened to one ticket of a job: done, or refused and why."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="results")
    incident_id = models.PositiveBigIntegerField()
    key = models.CharField(max_length=20)
    ok = models.BooleanField()
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The guard against applying twice: a second run's row for the same ticket
            # fails, and its service call rolls back with it.
            models.UniqueConstraint(fields=["job", "incident_id"], name="bulk_result_once")
        ]

    def __str__(self) -> str:
        return f"{self.key}: {'ok' if self.ok else self.reason}"
