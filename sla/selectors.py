"""Reads of SLA clocks, shaped for queues, ticket pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min, Prefetch, Q, QuerySet
from django.utils import timezone

from sla import engine
from sla.models import SlaClock


def clock_prefetch() -> Prefetch:
    """Prefetch a ticket queryset's clocks with their calendars: three queries in all,
    whatever the page size."""
    return Prefetch(
        "sla_clocks",
        queryset=SlaClock.objects.select_related("policy__calendar").prefetch_related(
            "policy__calendar__periods", "policy__calendar__holidays"
        ),
    )


@dataclass(frozen=True)
class ClockView:
    clock: SlaClock
    target: str
    state: str
    breached: bool
    due_at: datetime | None
    elapsed_seconds: float
    remaining_seconds: float  # business seconds; negative when overdue
    percent: int
    level: str  # ok, warning, danger, breached, paused, met, cancelled

    @property
    def remaining_label(self) -> str:
        if self.state in ("met", "cancelled"):
            return self.state
        text = engine.fmt_duration(self.remaining_seconds)
        return f"{text} over" if self.remaining_seconds < 0 else f"{text} left"


def clock_view(clock: SlaClock, now: datetime | None = None) -> ClockView:
    now = now or timezone.now()
    spec = clock.policy.calendar.spec()
    elapsed = engine.elapsed_at(clock, spec, now)
    remaining = clock.target_seconds - elapsed
    percent = int(100 * elapsed / clock.target_seconds) if clock.target_seconds else 100
    if clock.state == "cancelled":
        level = "cancelled"
    elif clock.stopped_at is not None:
        level = "breached" if clock.breached else "met"
    elif clock.breached or remaining <= 0:
        level = "breached"
    elif clock.paused_since is not None:
        level = "paused"
    else:
        warnings = [t for t in clock.thresholds if t < 100] or [75]
        level = (
            "danger"
            if percent >= max(warnings)
            else ("warning" if percent >= min(warnings) else "ok")
        )
    return ClockView(
        clock,
        clock.target,
        clock.state,
        clock.breached,
        clock.due_at,
        elapsed,
        remaining,
        percent,
        level,
    )


def ticket_clocks(ticket: object, now: datetime | None = None) -> list[ClockView]:
    """The clocks of a ticket with ``sla_clocks`` (prefetched or not), response first."""
    clocks = sorted(ticket.sla_clocks.all(), key=lambda c: c.target != "response")  # type: ignore[attr-defined]
    return [clock_view(c, now) for c in clocks]


def with_next_due(qs: QuerySet) -> QuerySet:
    """Annotate ``sla_next_due``: the earliest due moment of a ticking clock (overdue
    ones first), so queues can be ordered by SLA urgency."""
    return qs.annotate(
        sla_next_due=Min(
            "sla_clocks__due_at",
            filter=Q(sla_clocks__stopped_at__isnull=True, sla_clocks__running_since__isnull=False),
        )
    )
