"""The Incident and its lifecycle graph. Transitions here only declare the graph; what a
transition does (who may, which fields, audit, notices) lives in ``itsm.services``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.models import Tier
from core.services import team_recipients
from sla.interface import SlaKept, TicketSnapshot


class Level(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Category(models.TextChoices):
    SOFTWARE = "software", "Software / application"
    HARDWARE = "hardware", "Hardware"
    NETWORK = "network", "Network"
    ACCESS = "access", "Access and accounts"
    DATA = "data", "Data"
    INQUIRY = "inquiry", "Inquiry / help"
    OTHER = "other", "Other"


class IncidentStatus(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class HoldReason(models.TextChoices):
    AWAITING_REQUESTER = "awaiting_requester", "Awaiting requester"
    AWAITING_VENDOR = "awaiting_vendor", "Awaiting vendor"
    AWAITING_CHANGE = "awaiting_change", "Awaiting change"


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", "Solved (permanently)"
    WORKAROUND = "workaround", "Solved (workaround)"
    NOT_REPRODUCIBLE = "not_reproducible", "Not solved (not reproducible)"
    USER_ERROR = "user_error", "Solved (user error / how-to)"
    DUPLICATE = "duplicate", "Duplicate"
    NO_FAULT = "no_fault", "No fault found"


def priority_for(impact: str, urgency: str) -> int:
    """Priority 1 (highest) … 5 from the configured impact × urgency matrix."""
    return int(settings.INCIDENT_PRIORITY_MATRIX[f"{impact}/{urgency}"])


S = IncidentStatus
OPEN_STATES = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.ON_HOLD)


# The orderings a queue offers (itsm.filters.IncidentFilter): name, column.
ORDER_COLUMNS = [
    ("created", "created_at"),
    ("updated", "updated_at"),
    ("priority", "priority"),
    ("status", "status"),
    ("title", "title"),
    ("sla", "sla_due_at"),
    ("number", "number"),
]
# Over every incident: each ordering alone (the number's own index is its unique
# constraint), and within one state (the API's ``?status=…&ordering=…``).
ORDER_INDEXES = [(name, [], col) for name, col in ORDER_COLUMNS if name != "number"] + [
    (f"st_{name}", ["status"], col)
    for name, col in ORDER_COLUMNS
    if name in ("created", "updated", "priority", "sla")
]


class Incident(ConcurrentTransitionMixin, models.Model):
    KEY_PREFIX = "INC"
    # Fields whose changes the audit trail records.
    AUDITED_FIELDS = (
        "title",
        "description",
        "requester",
        "service",
        "category",
        "impact",
        "urgency",
        "priority",
        "major_incident",
        "team",
        "assignee",
        "tier",
        "hold_reason",
        "resolution_code",
        "resolution_notes",
        "responded_at",
        "problem",
        "caused_by_change",
        "duplicate_of",
        "parent",
    )

    number = models.PositiveBigIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="incidents_requested",
        db_index=False,
    )
    service = models.ForeignKey("core.Service", on_delete=models.PROTECT, related_name="incidents")
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.SOFTWARE)
    impact = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    # Derived from impact × urgency on every save; stored so queues can filter and sort on it.
    priority = models.PositiveSmallIntegerField(editable=False)
    major_incident = models.BooleanField(default=False)

    status = FSMField(default=S.NEW, choices=S.choices, protected=True)
    # team, assignee, requester: indexed by the composite indexes below that lead with them
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents_assigned",
        db_index=False,
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.SERVICE_DESK)
    hold_reason = models.CharField(max_length=30, choices=HoldReason.choices, blank=True)
    resolution_code = models.CharField(max_length=30, choices=ResolutionCode.choices, blank=True)
    resolution_notes = models.TextField(blank=True)
    reopen_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Kept by the SLA engine from the incident's clocks (SLA_KEPT, sla.interface.SlaKept),
    # so the queues order and filter by SLA off the incident row, never reading the clocks:
    # the earliest due moment of a ticking clock (the "SLA urgency" order, indexed) ...
    sla_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # ... whether a clock missed its target (breached: this or sla_due_at <= now) ...
    sla_breached = models.BooleanField(default=False, editable=False)
    # ... and the latest due moment of a ticking, unbreached clock that fired a warning
    # (at risk: this > now; incident_sla_risk_idx below).
    sla_risk_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    problem = models.ForeignKey(
        "itsm.Problem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        help_text="The problem this incident is a symptom of.",
    )

    caused_by_change = models.ForeignKey(
        "itsm.Change",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="caused_incidents",
        help_text="The change that caused this incident.",
    )

    # Merged: this incident was closed as a duplicate of that one (itsm.services.incident_links).
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        help_text="The master incident this one was merged into.",
    )
    # A child of a major incident: resolved with it (incident_resolve cascades).
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The major incident this incident is part of.",
    )
    # Related incidents: a plain symmetric link, for reading across (no behaviour).
    related = models.ManyToManyField("self", blank=True)

    sla_clocks = GenericRelation("sla.SlaClock")

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every filter and ordering a queue offers reads off an index, whatever the table's
        # size (docs/decisions.md, issue 13): the ordering's column then the id, which
        # breaks ties in the same direction (itsm.filters.IncidentFilter.qs); the team
        # queues' orders over open incidents only (partial), the rest over all.
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["requester", "status"]),
            models.Index(fields=["status", "resolved_at"]),
            # The dashboards' backlog (itsm.reports.backlog): incidents still open at, or
            # resolved after, the period's start (``resolved_at IS NULL OR >= start``).
            models.Index(fields=["resolved_at"], name="incident_resolved_idx"),
            # The dashboards filtered by service: that service's incidents raised in a period.
            models.Index(fields=["service", "created_at"], name="incident_service_created_idx"),
            *[
                models.Index(fields=[*lead, col, "id"], name=f"incident_{name}_idx")
                for name, lead, col in ORDER_INDEXES
            ],
            *[
                models.Index(
                    fields=["team", col, "id"],
                    name=f"incident_q_{name}_idx",
                    condition=models.Q(status__in=[s.value for s in OPEN_STATES]),
                )
                for name, col in ORDER_COLUMNS
            ],
            # The incidents at risk (few at a time), in the "SLA urgency" order: ``?sla=
            # at_risk`` walks them alone in that order (sla_risk_due_at > now implies the
            # condition), or reads them all for another order. In the queue's own order
            # index they sit behind every overdue incident, which the planner cannot know.
            models.Index(
                fields=["sla_due_at", "id"],
                name="incident_sla_risk_idx",
                condition=models.Q(sla_risk_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.priority = priority_for(self.impact, self.urgency)
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "priority"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return f"/incidents/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.KEY_PREFIX}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    # --- the SLA engine's view of an incident (sla.interface.SlaTicket) --------------------
    SLA_KEPT = SlaKept(due="sla_due_at", breached="sla_breached", risk_due="sla_risk_due_at")

    def sla_snapshot(self) -> TicketSnapshot:
        return TicketSnapshot(
            ticket_type="incident",
            status=self.status,
            priority=self.priority,
            service_id=self.service_id,
            team_id=self.team_id,
            responded=self.responded_at is not None,
            resolved=self.status in (S.RESOLVED, S.CLOSED),
            cancelled=self.status == S.CANCELLED,
        )

    @classmethod
    def sla_queryset(cls) -> models.QuerySet:  # type: ignore[type-arg]
        """What ``sla_watchers``, ``key`` and ``title`` read (the SLA sweep's batches);
        prefetched, not joined, so a batch shares one row object per team or person."""
        return cls.objects.only(
            "id", "number", "title", "status", "assignee", "team"
        ).prefetch_related("assignee", "team__members")

    def sla_watchers(self) -> list[str]:
        """Warnings go to the assignee and to the team that holds the incident."""
        assignee = [self.assignee.email] if self.assignee and self.assignee.email else []
        return sorted({*assignee, *team_recipients(self.team)})

    # --- the lifecycle graph (names are part of the API) ---------------------------------
    @transition(
        field=status, source=[S.NEW, S.ASSIGNED], target=S.ASSIGNED, custom={"label": "Assign"}
    )
    def assign(self) -> None: ...

    @transition(
        field=status, source=S.ASSIGNED, target=S.IN_PROGRESS, custom={"label": "Start work"}
    )
    def start(self) -> None: ...

    @transition(
        field=status, source=S.IN_PROGRESS, target=S.ON_HOLD, custom={"label": "Put on hold"}
    )
    def hold(self) -> None: ...

    @transition(field=status, source=S.ON_HOLD, target=S.IN_PROGRESS, custom={"label": "Resume"})
    def resume(self) -> None: ...

    @transition(
        field=status, source=list(OPEN_STATES), target=S.ASSIGNED, custom={"label": "Escalate"}
    )
    def escalate(self) -> None: ...

    # From assigned too: the service records the implied start first (incident_resolve).
    @transition(
        field=status,
        source=[S.ASSIGNED, S.IN_PROGRESS],
        target=S.RESOLVED,
        custom={"label": "Resolve"},
    )
    def resolve(self) -> None: ...

    @transition(field=status, source=S.RESOLVED, target=S.IN_PROGRESS, custom={"label": "Reopen"})
    def reopen(self) -> None: ...

    @transition(
        field=status, source=S.RESOLVED, target=S.CLOSED, custom={"label": "Confirm and close"}
    )
    def close(self) -> None: ...

    @transition(
        field=status, source=[S.NEW, S.ASSIGNED], target=S.CANCELLED, custom={"label": "Cancel"}
    )
    def cancel(self) -> None: ...

    # Not in TRANSITION_NAMES: it takes a master, so it has its own service, page form and
    # endpoint (incident_merge) rather than the generic transition form.
    @transition(
        field=status,
        source=list(OPEN_STATES),
        target=S.CLOSED,
        custom={"label": "Close as duplicate"},
    )
    def merge(self) -> None: ...


TRANSITION_NAMES = (
    "assign",
    "start",
    "hold",
    "resume",
    "escalate",
    "resolve",
    "reopen",
    "close",
    "cancel",
)
