from django.contrib import admin

from core.admin import ReadOnlyAdmin
from core.config_audit import RetireActionsAdmin
from sla.models import BusinessCalendar, Holiday, SlaClock, SlaClockEvent, SlaPolicy, WorkingPeriod


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(RetireActionsAdmin):
    list_display = ["name", "timezone", "always_open", "holiday_country", "is_active"]
    list_filter = ["is_active"]
    inlines = [WorkingPeriodInline, HolidayInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(RetireActionsAdmin):
    list_display = [
        "name",
        "ticket_type",
        "priority",
        "service",
        "calendar",
        "response_minutes",
        "resolution_minutes",
        "breach_escalation",
        "is_active",
    ]
    list_filter = ["ticket_type", "priority", "is_active", "calendar"]


class SlaClockEventInline(admin.TabularInline):
    model = SlaClockEvent
    extra = 0
    readonly_fields = ["kind", "at", "elapsed_seconds", "percent", "audit_event", "note"]
    can_delete = False


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    """Read-only: clocks move with their tickets and the sweep."""

    list_display = ["__str__", "policy", "state", "breached", "due_at", "next_check_at"]
    list_filter = ["state", "target", "breached"]
    inlines = [SlaClockEventInline]

    deletable = True  # as it always was: an administrator may delete a clock here
