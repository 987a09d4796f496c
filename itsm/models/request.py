"""Service requests: a catalogue of things one can order, approval, and fulfilment by a
team through tasks."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from sla.interface import TicketSnapshot


class ApprovalRule(models.TextChoices):
    NONE = "none", "No approval"
    MANAGER = "manager", "The requester's manager"
    GROUP = "group", "A named group"


class CatalogItem(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    service = models.ForeignKey(
        "core.Service", on_delete=models.PROTECT, related_name="catalog_items"
    )
    approval = models.CharField(
        max_length=10, choices=ApprovalRule.choices, default=ApprovalRule.NONE
    )
    approval_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="When approval is by a named group.",
    )
    fulfilment_team = models.ForeignKey(
        "core.Team", on_delete=models.PROTECT, related_name="catalog_items"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["service__name", "name"]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"
    DATE = "date", "Date"
    NUMBER = "number", "Number"
    USER = "user", "User"


class CatalogField(models.Model):
    """A question the requester answers when ordering the item."""

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="fields")
    name = models.SlugField(max_length=40, help_text="The answer's key in the API.")
    label = models.CharField(max_length=120)
    type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=True)
    choices = models.TextField(blank=True, help_text="For a choice: one option per line.")
    help_text = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="uniq_field_name")]

    def __str__(self) -> str:
        return f"{self.item}: {self.label}"

    def options(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]


class CatalogTaskTemplate(models.Model):
    """A fulfilment task created for each approved request of the item."""

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="task_templates")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FULFILLING = "fulfilling", "Fulfilling"
    FULFILLED = "fulfilled", "Fulfilled"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


R = RequestStatus
REQUEST_OPEN_STATES = (R.SUBMITTED, R.AWAITING_APPROVAL, R.APPROVED, R.FULFILLING)


class ServiceRequest(ConcurrentTransitionMixin, models.Model):
    KEY_PREFIX = "REQ"
    AUDITED_FIELDS = ("item", "requester", "answers", "team", "assignee", "priority")

    number = models.PositiveBigIntegerField(unique=True, editable=False)
    item = models.ForeignKey(CatalogItem, on_delete=models.PROTECT, related_name="requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_requests"
    )
    answers = models.JSONField(default=dict, blank=True)
    status = FSMField(default=R.SUBMITTED, choices=R.choices, protected=True, db_index=True)
    team = models.ForeignKey("core.Team", on_delete=models.PROTECT, related_name="requests")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests_assigned",
    )
    priority = models.PositiveSmallIntegerField(default=4)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    sla_clocks = GenericRelation("sla.SlaClock")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} {self.item}"

    def get_absolute_url(self) -> str:
        return f"/requests/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.KEY_PREFIX}-{self.number}"

    @property
    def title(self) -> str:
        return self.item.name

    @property
    def is_open(self) -> bool:
        return self.status in REQUEST_OPEN_STATES

    def sla_snapshot(self) -> TicketSnapshot:
        return TicketSnapshot(
            ticket_type="request",
            status=self.status,
            priority=self.priority,
            service_id=self.item.service_id,
            team_id=self.team_id,
            responded=self.status not in (R.SUBMITTED, R.AWAITING_APPROVAL, R.APPROVED),
            resolved=self.status in (R.FULFILLED, R.CLOSED, R.REJECTED),
            cancelled=self.status == R.CANCELLED,
        )

    @classmethod
    def sla_queryset(cls) -> models.QuerySet:  # type: ignore[type-arg]
        """What ``sla_watchers``, ``key`` and ``title`` read (the SLA sweep's batches);
        prefetched, not joined, so a batch shares one row object per team or person."""
        return cls.objects.prefetch_related("item", "assignee", "team__members")

    def sla_watchers(self) -> list[str]:
        from core.services import team_recipients

        mine = [self.assignee.email] if self.assignee and self.assignee.email else []
        return sorted({*mine, *team_recipients(self.team)})

    # --- the lifecycle graph (names are part of the API) ---------------------------------
    @transition(
        field=status,
        source=R.SUBMITTED,
        target=R.AWAITING_APPROVAL,
        custom={"label": "Ask for approval", "system": True},
    )
    def request_approval(self) -> None: ...

    @transition(
        field=status,
        source=[R.SUBMITTED, R.AWAITING_APPROVAL],
        target=R.APPROVED,
        custom={"label": "Approve", "system": True},
    )
    def approve(self) -> None: ...

    @transition(
        field=status,
        source=R.AWAITING_APPROVAL,
        target=R.REJECTED,
        custom={"label": "Reject", "system": True},
    )
    def reject(self) -> None: ...

    @transition(
        field=status, source=R.APPROVED, target=R.FULFILLING, custom={"label": "Start fulfilment"}
    )
    def start_fulfilment(self) -> None: ...

    @transition(
        field=status,
        source=R.FULFILLING,
        target=R.FULFILLED,
        custom={"label": "Fulfil", "system": True},
    )
    def fulfil(self) -> None: ...

    @transition(
        field=status, source=[R.FULFILLED, R.REJECTED], target=R.CLOSED, custom={"label": "Close"}
    )
    def close(self) -> None: ...

    @transition(
        field=status,
        source=[R.SUBMITTED, R.AWAITING_APPROVAL, R.APPROVED],
        target=R.CANCELLED,
        custom={"label": "Cancel"},
    )
    def cancel(self) -> None: ...


# Transitions a person fires; the others follow approvals and tasks.
REQUEST_TRANSITIONS = ("start_fulfilment", "close", "cancel")


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


TS = TaskStatus


class FulfilmentTask(ConcurrentTransitionMixin, models.Model):
    AUDITED_FIELDS = ("title", "assignee", "notes")

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    status = FSMField(default=TS.OPEN, choices=TS.choices, protected=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fulfilment_tasks",
    )
    notes = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.request.key} · {self.title}"

    @property
    def is_finished(self) -> bool:
        return self.status in (TS.DONE, TS.CANCELLED)

    @transition(field=status, source=TS.OPEN, target=TS.IN_PROGRESS, custom={"label": "Start"})
    def start(self) -> None: ...

    @transition(
        field=status, source=[TS.OPEN, TS.IN_PROGRESS], target=TS.DONE, custom={"label": "Done"}
    )
    def complete(self) -> None: ...

    @transition(
        field=status,
        source=[TS.OPEN, TS.IN_PROGRESS],
        target=TS.CANCELLED,
        custom={"label": "Not needed"},
    )
    def cancel(self) -> None: ...


TASK_TRANSITIONS = ("start", "complete", "cancel")
