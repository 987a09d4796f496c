"""What the development side keeps about its work: go-live gate evaluations, time, emergency
decisions and hypercare routes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models

from projects.models.planning import Release


class GateEvaluation(models.Model):
    """Every time the go-live gate was asked (a page, a pipeline, a go-live attempt), what
    it answered and why: kept for audit."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="gate_evaluations")
    evaluated_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(
        max_length=12, choices=[("query", "Asked"), ("go_live", "Go-live attempt")]
    )
    allowed = models.BooleanField()
    checks = models.JSONField(default=list)

    class Meta:
        ordering = ["-evaluated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.release} gate {'open' if self.allowed else 'closed'} at {self.evaluated_at}"


class TimeEntry(models.Model):
    """Time a person spent on an incident or problem (support) or a work item (project)."""

    SUPPORT_MODELS = ("incident", "problem")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    date = models.DateField(db_index=True)
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    is_support = models.BooleanField(
        help_text="Incidents and problems are support; work items are project time."
    )
    # Whose work it was, fixed when the time is logged (the ticket may change queues
    # later): capacity counts the hours on this team only, not on every team of the person.
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="time_entries",
        help_text="The team whose work it was: the ticket's team or the project's.",
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        indexes = [
            models.Index(fields=["user", "date"]),
            models.Index(fields=["team", "date"], name="timeentry_team_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hours__gt=0) & models.Q(hours__lte=24), name="hours_in_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.hours} h on {self.date}"


class EmergencyDecisionStatus(models.TextChoices):
    PROPOSED = "proposed", "Awaiting the Project Manager"
    CONFIRMED = "confirmed", "Confirmed by the Project Manager"
    CONTESTED = "contested", "Contested by the Project Manager"


class EmergencyDecision(models.Model):
    """An emergency change that needs a project's developers: who agreed (the Change
    Manager and the Project Manager) and what it costs the release."""

    change = models.ForeignKey(
        "itsm.Change", on_delete=models.PROTECT, related_name="emergency_decisions"
    )
    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, related_name="emergency_decisions"
    )
    change_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    project_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    developer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who is taken off the project for it.",
    )
    slip_days = models.PositiveSmallIntegerField(
        help_text="Working days (of the project's calendar) the release date moves."
    )
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=EmergencyDecisionStatus.choices, default="proposed", db_index=True
    )
    pm_decided_at = models.DateTimeField(null=True, blank=True)
    pm_comment = models.TextField(blank=True, help_text="The Project Manager's word on it.")
    planned_date_before = models.DateField(null=True, blank=True)
    planned_date_after = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.change} → {self.release}: +{self.slip_days} working d"

    def get_absolute_url(self) -> str:
        return self.change.get_absolute_url()

    @property
    def key(self) -> str:
        return f"Emergency decision {self.pk}"


class HypercareRoute(models.Model):
    """An incident raised during a release's hypercare, routed to the release's team as
    well as the service desk: it stays with the desk (its ``team``) and also shows in
    this team's queue, marked hypercare, whose members may work it (projects.apps)."""

    incident = models.ForeignKey(
        "itsm.Incident", on_delete=models.CASCADE, related_name="hypercare_routes"
    )
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="hypercare_routes")
    team = models.ForeignKey("core.Team", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "release"], name="uniq_hypercare_route")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.team} ({self.release})"
