from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.retire import serializer_check
from sla.models import BusinessCalendar, Holiday, SlaClock, SlaClockEvent, SlaPolicy, WorkingPeriod
from sla.selectors import ClockView, clock_view


class ClockSerializer(serializers.Serializer):
    """A clock as a queue or a client needs it: how long is left, and how bad it is."""

    target = serializers.CharField()
    state = serializers.CharField()
    breached = serializers.BooleanField()
    policy = serializers.CharField(source="clock.policy.name")
    target_seconds = serializers.IntegerField(source="clock.target_seconds")
    due_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the target falls due; while paused, when it would if work resumed now.",
    )
    elapsed_seconds = serializers.FloatField(help_text="Business seconds spent on the target.")
    remaining_seconds = serializers.FloatField(help_text="Business seconds left; negative: over.")
    paused_seconds = serializers.FloatField(
        help_text="Wall-clock seconds on hold, the pause in progress included."
    )
    target_label = serializers.CharField(
        help_text="The target in business terms, e.g. '4h' or '3 working days'."
    )
    remaining_label = serializers.CharField(help_text="e.g. '2 working days 3h left', '20m over'.")
    percent = serializers.IntegerField()
    level = serializers.CharField(help_text="ok, warning, danger, breached, paused, met, cancelled")


class ClockEventSerializer(serializers.ModelSerializer):
    audit_event = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = SlaClockEvent
        fields = ["kind", "at", "elapsed_seconds", "percent", "note", "audit_event"]


class ClockTimelineSerializer(serializers.ModelSerializer):
    """A clock with its events; the figures are the live ones (as ``ClockSerializer``):
    a pause in progress counts, and a paused clock says when it would fall due."""

    policy = serializers.CharField(source="policy.name")
    events = ClockEventSerializer(many=True)
    due_at = serializers.SerializerMethodField()
    paused_seconds = serializers.SerializerMethodField()
    elapsed_seconds = serializers.SerializerMethodField()
    target_label = serializers.SerializerMethodField()

    class Meta:
        model = SlaClock
        fields = [
            "target",
            "policy",
            "state",
            "breached",
            "target_seconds",
            "target_label",
            "due_at",
            "elapsed_seconds",
            "paused_seconds",
            "events",
        ]

    def _view(self, clock: SlaClock) -> ClockView:
        cache = self.context.setdefault("clock_views", {})
        if clock.pk not in cache:
            cache[clock.pk] = clock_view(clock)
        return cache[clock.pk]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_due_at(self, clock: SlaClock) -> str | None:
        due = self._view(clock).due_at
        return serializers.DateTimeField().to_representation(due) if due else None

    def get_paused_seconds(self, clock: SlaClock) -> float:
        return self._view(clock).paused_seconds

    def get_elapsed_seconds(self, clock: SlaClock) -> float:
        return self._view(clock).elapsed_seconds

    def get_target_label(self, clock: SlaClock) -> str:
        return self._view(clock).target_label

    def to_representation(self, clock: SlaClock) -> dict:
        # The event log (warnings, breaches, their notes) is for those the ticket's
        # visibility policy lets read SLA events (core.visibility); others get the clock.
        data = super().to_representation(clock)
        parts = self.context.get("parts")
        if parts is not None and not parts.sla_events:
            data["events"] = []
        return data


# The one field whose text DRF decides (the time zone, "Z" for UTC): its own field does it.
_MOMENT = serializers.DateTimeField()


def clock_data(view: ClockView) -> dict:
    """``ClockSerializer().to_representation(view)``, written out: a list of fifty clocks
    through thirteen DRF fields each cost a fifth of the incident list API. The schema
    stays ``ClockSerializer``'s; a test holds the two equal for clocks in every state."""
    clock = view.clock
    return {
        "target": str(view.target),
        "state": str(view.state),
        "breached": bool(view.breached),
        "policy": str(clock.policy.name),
        "target_seconds": int(clock.target_seconds),
        "due_at": None if view.due_at is None else _MOMENT.to_representation(view.due_at),
        "elapsed_seconds": float(view.elapsed_seconds),
        "remaining_seconds": float(view.remaining_seconds),
        "paused_seconds": float(view.paused_seconds),
        "target_label": str(view.target_label),
        "remaining_label": str(view.remaining_label),
        "percent": int(view.percent),
        "level": str(view.level),
    }


def clocks_data(views: list[ClockView]) -> list[dict]:
    return [clock_data(v) for v in views]


class WorkingPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkingPeriod
        fields = ["weekday", "start", "end"]


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name"]


class CalendarSerializer(serializers.ModelSerializer):
    periods = WorkingPeriodSerializer(many=True, required=False)
    holidays = HolidaySerializer(many=True, required=False)

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "timezone",
            "always_open",
            "holiday_country",
            "is_active",
            "periods",
            "holidays",
        ]

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        for p in attrs.get("periods", []):
            midnight = p["end"].hour == 0 and p["end"].minute == 0
            if not midnight and p["end"] <= p["start"]:
                raise serializers.ValidationError({"periods": "A period must end after it starts."})
        # one holiday per date (the table's uniq_holiday): a repeat was an IntegrityError
        seen: set[object] = set()
        for h in attrs.get("holidays", []):
            if h["date"] in seen:
                raise serializers.ValidationError(
                    {"holidays": f"{h['date']:%Y-%m-%d} is listed twice; a date is one holiday."}
                )
            seen.add(h["date"])
        return attrs

    @transaction.atomic
    def create(self, validated):  # type: ignore[no-untyped-def]
        periods, holidays = validated.pop("periods", []), validated.pop("holidays", [])
        calendar = BusinessCalendar.objects.create(**validated)
        self._children(calendar, periods, holidays)
        return calendar

    @transaction.atomic
    def update(self, calendar, validated):  # type: ignore[no-untyped-def]
        periods, holidays = validated.pop("periods", None), validated.pop("holidays", None)
        for k, v in validated.items():
            setattr(calendar, k, v)
        calendar.save()
        self._children(calendar, periods, holidays)
        return calendar

    @staticmethod
    def _children(calendar, periods, holidays) -> None:  # type: ignore[no-untyped-def]
        """Lists given in full replace the calendar's (running clocks use them from their
        next change on)."""
        if periods is not None:
            calendar.periods.all().delete()
            WorkingPeriod.objects.bulk_create(
                WorkingPeriod(calendar=calendar, **p) for p in periods
            )
        if holidays is not None:
            calendar.holidays.all().delete()
            Holiday.objects.bulk_create(Holiday(calendar=calendar, **h) for h in holidays)


class SlaPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "ticket_type",
            "priority",
            "service",
            "calendar",
            "response_minutes",
            "resolution_minutes",
            "pause_states",
            "warning_thresholds",
            "breach_escalation",
            "notify_incident_manager",
            "is_active",
        ]

    def validate_calendar(self, value):  # type: ignore[no-untyped-def]
        # a retired calendar is chosen by no new policy; the one it counts with may stay
        serializer_check(
            value, field="calendar", current=getattr(self.instance, "calendar_id", None)
        )
        return value

    def validate_warning_thresholds(self, value):  # type: ignore[no-untyped-def]
        if not isinstance(value, list) or any(
            not isinstance(t, int) or isinstance(t, bool) or not 0 < t < 100 for t in value
        ):
            raise serializers.ValidationError("A list of whole percentages between 1 and 99.")
        return value

    def validate_pause_states(self, value):  # type: ignore[no-untyped-def]
        if not isinstance(value, list) or any(not isinstance(s, str) for s in value):
            raise serializers.ValidationError("A list of state names.")
        return value

    def validate_priority(self, value):  # type: ignore[no-untyped-def]
        if value is not None and not 1 <= value <= 5:
            raise serializers.ValidationError("Priority is 1 to 5.")
        return value

    def validate_response_minutes(self, value):  # type: ignore[no-untyped-def]
        if value < 1:
            raise serializers.ValidationError("At least one minute.")
        return value

    validate_resolution_minutes = validate_response_minutes
