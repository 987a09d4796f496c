"""The Problem: the unknown cause of one or more incidents, its root cause, workaround
(a known error) and permanent fix. Transitions only declare the graph."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.models.incident import Category, Level, priority_for
from sla.interface import TicketSnapshot


class ProblemStatus(models.TextChoices):
    NEW = "new", "New"
    INVESTIGATING = "investigating", "Investigating"
    KNOWN_ERROR = "known_error", "Known error"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


P = ProblemStatus
PROBLEM_OPEN_STATES = (P.NEW, P.INVESTIGATING, P.KNOWN_ERROR)


class Problem(ConcurrentTransitionMixin, models.Model):
    KEY_PREFIX = "PRB"
    AUDITED_FIELDS = (
        "title",
        "description",
        "service",
        "category",
        "impact",
        "urgency",
        "priority",
        "assignee",
        "team",
        "root_cause",
        "workaround",
        "fix_description",
        "fix_change",
        "resolution_notes",
    )

    number = models.PositiveBigIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    service = models.ForeignKey("core.Service", on_delete=models.PROTECT, related_name="problems")
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.SOFTWARE)
    impact = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    priority = models.PositiveSmallIntegerField(editable=False, db_index=True)
    status = FSMField(default=P.NEW, choices=P.choices, protected=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="problems_raised"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="problems_assigned",
        help_text="Who investigates it.",
    )
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="problems"
    )
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    workaround_published_at = models.DateTimeField(null=True, blank=True)
    fix_description = models.TextField(blank=True, help_text="The permanent fix.")
    resolution_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    known_error_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    fix_change = models.ForeignKey(
        "itsm.Change",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fixes_problems",
        help_text="The change that delivers the permanent fix.",
    )

    sla_clocks = GenericRelation("sla.SlaClock")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.priority = priority_for(self.impact, self.urgency)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return f"/problems/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.KEY_PREFIX}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in PROBLEM_OPEN_STATES

    @property
    def workaround_published(self) -> bool:
        return self.workaround_published_at is not None and bool(self.workaround)

    def sla_snapshot(self) -> TicketSnapshot:
        return TicketSnapshot(
            ticket_type="problem",
            status=self.status,
            priority=self.priority,
            service_id=self.service_id,
            team_id=self.team_id,
            responded=self.status != P.NEW,
            resolved=self.status in (P.RESOLVED, P.CLOSED),
            cancelled=self.status == P.CANCELLED,
        )

    @classmethod
    def sla_queryset(cls) -> models.QuerySet:  # type: ignore[type-arg]
        """What ``sla_watchers``, ``key`` and ``title`` read (the SLA sweep's batches);
        prefetched, not joined, so a batch shares one row object per team or person."""
        return cls.objects.prefetch_related("assignee")

    def sla_watchers(self) -> list[str]:
        return [self.assignee.email] if self.assignee and self.assignee.email else []

    # --- the lifecycle graph (names are part of the API) ---------------------------------
    @transition(
        field=status, source=P.NEW, target=P.INVESTIGATING, custom={"label": "Start investigation"}
    )
    def investigate(self) -> None: ...

    @transition(
        field=status,
        source=P.INVESTIGATING,
        target=P.KNOWN_ERROR,
        custom={"label": "Mark as known error"},
    )
    def mark_known_error(self) -> None: ...

    @transition(
        field=status,
        source=[P.INVESTIGATING, P.KNOWN_ERROR],
        target=P.RESOLVED,
        custom={"label": "Resolve"},
    )
    def resolve(self) -> None: ...

    @transition(field=status, source=P.RESOLVED, target=P.INVESTIGATING, custom={"label": "Reopen"})
    def reopen(self) -> None: ...

    @transition(field=status, source=P.RESOLVED, target=P.CLOSED, custom={"label": "Close"})
    def close(self) -> None: ...

    @transition(
        field=status,
        source=[P.NEW, P.INVESTIGATING, P.KNOWN_ERROR],
        target=P.CANCELLED,
        custom={"label": "Cancel"},
    )
    def cancel(self) -> None: ...


PROBLEM_TRANSITIONS = ("investigate", "mark_known_error", "resolve", "reopen", "close", "cancel")
