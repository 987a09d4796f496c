"""SLA policies, business calendars and the clocks that run against them.

The engine knows tickets only through ``sla.interface.SlaTicket``; clocks point at any
ticket model through a content type.
"""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo, available_timezones

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from sla.calendar import CalendarSpec


def _validate_tz(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}.")


class BusinessCalendar(models.Model):
    name = models.CharField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[_validate_tz])
    always_open = models.BooleanField(
        default=False, help_text="24×7: every hour counts, holidays included."
    )
    holiday_country = models.CharField(
        max_length=8,
        blank=True,
        help_text="ISO country code to pre-fill holidays from (manage.py sla_import_holidays).",
    )
    # Retired, not deleted, once a policy names it (core.retire): no new policy may
    # choose it; the policies and running clocks on it keep counting with it.
    is_active = models.BooleanField(
        default=True, help_text="Unticked: retired; no new policy may use it."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> CalendarSpec:
        """The calendar as pure data for the arithmetic (two queries, none if prefetched)."""
        hours: dict[int, list[tuple[time, time]]] = {}
        for p in self.periods.all():
            hours.setdefault(p.weekday, []).append((p.start, p.end))
        return CalendarSpec(
            tz=ZoneInfo(self.timezone),
            always_open=self.always_open,
            hours={d: tuple(sorted(v)) for d, v in hours.items()},
            holidays=frozenset(h.date for h in self.holidays.all()),
        )


class WorkingPeriod(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if self.end != time(0) and self.end <= self.start:
            raise ValidationError("A working period must end after it starts.")


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="uniq_holiday")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class Target(models.TextChoices):
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class BreachEscalation(models.TextChoices):
    NONE = "none", "Notify only"
    NEXT_TIER = "next_tier", "Escalate to the next support tier"
    DEVELOPMENT = "development", "Escalate to the owning development team (tier 3)"


def default_pause_states() -> list[str]:
    return ["on_hold"]


def default_thresholds() -> list[int]:
    return [50, 75]


class SlaPolicy(models.Model):
    """Which tickets it covers and the targets they must meet. The most specific active
    policy wins: one naming the service beats one for every service."""

    name = models.CharField(max_length=120, unique=True)
    ticket_type = models.CharField(
        max_length=40, default="incident", help_text="incident, request, problem or change"
    )
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: any priority."
    )
    service = models.ForeignKey(
        "core.Service",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Empty: every service.",
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT)
    response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    pause_states = models.JSONField(
        default=default_pause_states,
        blank=True,
        help_text="Ticket states in which the clocks stand still.",
    )
    warning_thresholds = models.JSONField(
        default=default_thresholds,
        blank=True,
        help_text="Percentages of the target at which a warning fires; 100 is the breach.",
    )
    breach_escalation = models.CharField(
        max_length=20, choices=BreachEscalation.choices, default=BreachEscalation.NONE
    )
    notify_incident_manager = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["ticket_type", "priority", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        bad = [t for t in self.warning_thresholds if not isinstance(t, int) or not 0 < t < 100]
        if bad:
            raise ValidationError({"warning_thresholds": "Whole percentages between 1 and 99."})

    def target_seconds(self, target: str) -> int:
        minutes = self.response_minutes if target == Target.RESPONSE else self.resolution_minutes
        return minutes * 60

    def thresholds(self) -> list[int]:
        return sorted({*self.warning_thresholds, 100})


class ClockState(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class SlaClock(models.Model):
    """One target (response or resolution) of one ticket.

    Business time is accumulated in ``elapsed_seconds`` up to ``running_since``; while
    running, the elapsed time now is that plus the business time since. ``next_check_at``
    is the next threshold moment: the sweep takes clocks whose moment has come.
    """

    # Indexed by the unique (content_type, object_id, target) below: every clock the sweep
    # moves updates each index of the table, so none is kept twice.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, db_index=False)
    object_id = models.PositiveBigIntegerField()
    ticket = GenericForeignKey("content_type", "object_id")
    target = models.CharField(max_length=12, choices=Target.choices)
    # No index on policy, service or team: nothing reads clocks by them but the reports,
    # which group a period's clocks (a scan), and the rare delete of a policy, service or
    # team; every clock the sweep moves would write each of them (docs/decisions.md).
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.PROTECT, related_name="clocks", db_index=False
    )
    target_seconds = models.PositiveIntegerField()
    thresholds = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.RUNNING)
    breached = models.BooleanField(
        default=False, help_text="Stays true once the target was missed."
    )
    elapsed_seconds = models.FloatField(default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    paused_since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    fired = models.PositiveSmallIntegerField(default=0, help_text="Highest threshold fired (%).")
    breached_at = models.DateTimeField(null=True, blank=True)
    breach_handled_at = models.DateTimeField(null=True, blank=True)
    # Copied from the ticket at each change, for reports grouped by these.
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    service = models.ForeignKey(
        "core.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = "SLA clock"  # named in messages: "... is used by 52 SLA clocks"
        ordering = ["target"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "target"], name="one_clock_per_ticket_target"
            ),
        ]
        indexes = [
            # The sweep: due clocks only, so its cost follows the due ones, not all open ones.
            models.Index(
                fields=["next_check_at"],
                name="sla_clock_due_idx",
                condition=Q(next_check_at__isnull=False),
            ),
            models.Index(
                fields=["breached_at"],
                name="sla_clock_unhandled_idx",
                condition=Q(breached=True, breach_handled_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} clock of {self.content_type.model} {self.object_id} ({self.state})"


class ClockEvent(models.TextChoices):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    RETARGETED = "retargeted"
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"
    RESTARTED = "restarted"
    CANCELLED = "cancelled"


class SlaClockEvent(models.Model):
    """The explainable timeline of a clock: what happened, when, and which audit entry of
    the ticket caused it."""

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=ClockEvent.choices)
    at = models.DateTimeField()
    elapsed_seconds = models.FloatField()
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    audit_event = models.ForeignKey(
        "core.AuditEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class SlaClockDay(models.Model):
    """The dashboards' daily roll-up of SLA clocks (docs/decisions.md, issue 16): the
    clocks started on ``day`` for this service, team and target, cancelled ones left out,
    that were met and that breached (as they are now). ``sla.facts`` recomputes a day
    whole; plain integer ids, as the incident roll-ups: it never blocks the clocks."""

    day = models.DateField()
    # A day's total per target over every service and team, or a team's over every
    # service (as ``IncidentDay.total``).
    total = models.BooleanField(default=False)
    service_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    target = models.CharField(max_length=12, choices=Target.choices)
    met = models.IntegerField(default=0)
    breached = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["total", "team_id", "day"], name="sla_clock_day_idx"),
            models.Index(fields=["service_id", "day"], name="sla_clock_day_service_idx"),
            models.Index(fields=["team_id", "day"], name="sla_clock_day_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.target}: {self.met} met, {self.breached} breached"


__all__ = [
    "BreachEscalation",
    "BusinessCalendar",
    "ClockEvent",
    "ClockState",
    "Holiday",
    "SlaClock",
    "SlaClockDay",
    "SlaClockEvent",
    "SlaPolicy",
    "Target",
    "WorkingPeriod",
    "date",
]
