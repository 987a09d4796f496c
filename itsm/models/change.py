"""Changes: standard (pre-approved template), normal (assessed, CAB-approved) and
emergency (expedited approval, reviewed afterwards). Transitions only declare the graph;
the type decides which paths exist."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.models.incident import Level
from sla.interface import TicketSnapshot


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class Risk(models.TextChoices):
    # A change has no risk level until it is assessed (a normal change's questionnaire);
    # a standard change is low risk by definition (its template was pre-approved).
    NOT_ASSESSED = "", "Not assessed"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    VERY_HIGH = "very_high", "Very high"


# The risk questionnaire: each "yes" adds its weight.
RISK_QUESTIONS: list[tuple[str, str, int]] = [
    ("many_users", "Would many users be affected if it goes wrong?", 3),
    ("untested", "Has it not been tested in a test environment?", 3),
    ("hard_backout", "Is it hard or slow to back out?", 4),
    ("business_hours", "Does it run during business hours?", 2),
    ("first_time", "Has this kind of change never been done before?", 2),
]
# Each "yes" as the history says it ("Risk answers: — → many users, business hours").
RISK_FACTORS: dict[str, str] = {
    "many_users": "many users",
    "untested": "not tested",
    "hard_backout": "hard to back out",
    "business_hours": "business hours",
    "first_time": "first of its kind",
}


def risk_from(answers: dict[str, bool]) -> str:
    score = sum(weight for key, _, weight in RISK_QUESTIONS if answers.get(key))
    if score >= 10:
        return Risk.VERY_HIGH
    if score >= 6:
        return Risk.HIGH
    if score >= 3:
        return Risk.MEDIUM
    return Risk.LOW


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ASSESSMENT = "assessment", "Assessment"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENTING = "implementing", "Implementing"
    REVIEW = "review", "Review"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed (backed out)"
    CANCELLED = "cancelled", "Cancelled"


class Outcome(models.TextChoices):
    SUCCESSFUL = "successful", "Successful"
    PARTIAL = "partial", "Successful with issues"
    FAILED = "failed", "Failed, backed out"


class StandardChangeTemplate(models.Model):
    """A pre-approved, low-risk change that needs no CAB."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    services = models.ManyToManyField("core.Service", blank=True)
    implementation_plan = models.TextField()
    backout_plan = models.TextField()
    test_plan = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FreezeWindow(models.Model):
    """A blackout period: no normal or standard change may be scheduled in it. An
    emergency change may, with an override that is recorded."""

    name = models.CharField(max_length=120)
    start = models.DateTimeField()
    end = models.DateTimeField()
    services = models.ManyToManyField("core.Service", blank=True, help_text="Empty: every service.")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="freeze_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.start:%d %b}–{self.end:%d %b})"


C = ChangeStatus
T = ChangeType
CHANGE_OPEN_STATES = (
    C.DRAFT,
    C.SUBMITTED,
    C.ASSESSMENT,
    C.AWAITING_APPROVAL,
    C.SCHEDULED,
    C.IMPLEMENTING,
    C.REVIEW,
)


def _is(kind: str):  # type: ignore[no-untyped-def]
    def condition(change: Change) -> bool:
        return change.type == kind

    condition.__name__ = f"is_{kind}"
    return condition


def _not_standard(change: Change) -> bool:
    return change.type != T.STANDARD


class Change(ConcurrentTransitionMixin, models.Model):
    KEY_PREFIX = "CHG"
    AUDITED_FIELDS = (
        "title",
        "description",
        "reason",
        "type",
        "template",
        "impact",
        "risk",
        "risk_answers",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "planned_start",
        "planned_end",
        "actual_start",
        "actual_end",
        "outcome",
        "review_notes",
        "implementer",
        "team",
        "freeze_override_reason",
    )

    number = models.PositiveBigIntegerField(unique=True, editable=False)
    type = models.CharField(max_length=10, choices=ChangeType.choices, default=T.NORMAL)
    template = models.ForeignKey(
        StandardChangeTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="changes",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="Why the change is needed.")
    services = models.ManyToManyField("core.Service", related_name="changes")
    impact = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    risk_answers = models.JSONField(default=dict, blank=True)
    risk = models.CharField(
        max_length=10, choices=Risk.choices, default=Risk.NOT_ASSESSED, blank=True
    )
    implementation_plan = models.TextField(blank=True)
    backout_plan = models.TextField(blank=True)
    test_plan = models.TextField(blank=True)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    review_notes = models.TextField(blank=True, help_text="Post-implementation review.")
    status = FSMField(default=C.DRAFT, choices=C.choices, protected=True, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes_requested"
    )
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="changes_implemented",
    )
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    freeze_override_reason = models.TextField(blank=True)
    freeze_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    sla_clocks = GenericRelation("sla.SlaClock")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "planned_start"])]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def get_absolute_url(self) -> str:
        return f"/changes/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.KEY_PREFIX}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in CHANGE_OPEN_STATES

    @property
    def risk_assessed(self) -> bool:
        return self.risk != Risk.NOT_ASSESSED

    @staticmethod
    def audit_display(name: str, value: object) -> str | None:
        """The activity stream's words for a value only the model can read (None: the
        shared rules): the risk answers are the factors answered yes, in the
        questionnaire's order."""
        if name == "risk_answers" and isinstance(value, dict):
            yes = [RISK_FACTORS.get(k, k) for k, _, _ in RISK_QUESTIONS if value.get(k)]
            return ", ".join(yes) if yes else "no risk factor"
        return None

    def sla_snapshot(self) -> TicketSnapshot:
        return TicketSnapshot(
            ticket_type="change",
            status=self.status,
            priority=None,
            service_id=None,
            team_id=self.team_id,
            responded=self.status != C.DRAFT,
            resolved=self.status in (C.CLOSED, C.REVIEW, C.FAILED, C.REJECTED),
            cancelled=self.status == C.CANCELLED,
        )

    @classmethod
    def sla_queryset(cls) -> models.QuerySet:  # type: ignore[type-arg]
        """What ``sla_watchers``, ``key`` and ``title`` read (the SLA sweep's batches);
        prefetched, not joined, so a batch shares one row object per team or person."""
        return cls.objects.prefetch_related("implementer", "requested_by")

    def sla_watchers(self) -> list[str]:
        return [u.email for u in (self.implementer, self.requested_by) if u and u.email]

    # --- the lifecycle graph (names are part of the API) ---------------------------------
    @transition(field=status, source=C.DRAFT, target=C.SUBMITTED, custom={"label": "Submit"})
    def submit(self) -> None: ...

    @transition(
        field=status,
        source=C.SUBMITTED,
        target=C.ASSESSMENT,
        conditions=[_is(T.NORMAL)],
        custom={"label": "Assess"},
    )
    def assess(self) -> None: ...

    @transition(
        field=status,
        source=C.ASSESSMENT,
        target=C.AWAITING_APPROVAL,
        conditions=[_is(T.NORMAL)],
        custom={"label": "Send to CAB"},
    )
    @transition(
        field=status,
        source=C.SUBMITTED,
        target=C.AWAITING_APPROVAL,
        conditions=[_is(T.EMERGENCY)],
        custom={"label": "Send to emergency CAB"},
    )
    def request_approval(self) -> None: ...

    @transition(
        field=status,
        source=C.AWAITING_APPROVAL,
        target=C.SCHEDULED,
        conditions=[_not_standard],
        custom={"label": "Schedule"},
    )
    @transition(
        field=status,
        source=C.SUBMITTED,
        target=C.SCHEDULED,
        conditions=[_is(T.STANDARD)],
        custom={"label": "Schedule"},
    )
    def schedule(self) -> None: ...

    @transition(
        field=status,
        source=C.AWAITING_APPROVAL,
        target=C.REJECTED,
        custom={"label": "Reject", "system": True},
    )
    def reject(self) -> None: ...

    @transition(
        field=status,
        source=C.SCHEDULED,
        target=C.IMPLEMENTING,
        custom={"label": "Start implementation"},
    )
    def implement(self) -> None: ...

    @transition(
        field=status, source=C.IMPLEMENTING, target=C.REVIEW, custom={"label": "Implemented"}
    )
    def complete(self) -> None: ...

    # From review too: a change found wrong after it was marked implemented (a release
    # rolled back) is backed out, and its outcome says so.
    @transition(
        field=status,
        source=[C.IMPLEMENTING, C.REVIEW],
        target=C.FAILED,
        custom={"label": "Failed: backed out"},
    )
    def fail(self) -> None: ...

    @transition(
        field=status,
        source=[C.REVIEW, C.FAILED],
        target=C.CLOSED,
        custom={"label": "Close after review"},
    )
    def close(self) -> None: ...

    @transition(
        field=status,
        source=[C.DRAFT, C.SUBMITTED, C.ASSESSMENT, C.AWAITING_APPROVAL, C.SCHEDULED],
        target=C.CANCELLED,
        custom={"label": "Cancel"},
    )
    def cancel(self) -> None: ...


CHANGE_TRANSITIONS = (
    "submit",
    "assess",
    "request_approval",
    "schedule",
    "implement",
    "complete",
    "fail",
    "close",
    "cancel",
)
