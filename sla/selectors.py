"""Reads of SLA clocks, shaped for queues, ticket pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, prefetch_related_objects
from django.db.models.query import ModelIterable
from django.utils import timezone

from core import refcache
from sla import engine
from sla.calendar import CalendarSpec
from sla.models import BusinessCalendar, SlaClock, SlaClockEvent, SlaPolicy

# A page's calendars by id: their spec and usual working day (see ``clock_view``).
Specs = dict[int, tuple[CalendarSpec, float | None]]


def _policies() -> dict[int, SlaPolicy]:
    """Every SLA policy with its calendar, by id: a handful of rows, kept per process until
    one changes (``core.refcache``). Shared read-only by every clock a process shows."""

    def load() -> dict[int, SlaPolicy]:
        return {p.pk: p for p in SlaPolicy.objects.select_related("calendar")}

    return refcache.cached("sla_policies", load)


class _SharedPolicies(ModelIterable):
    """Clocks whose policy (and its calendar) is the process's shared copy (``_policies``)
    instead of columns joined into every clock row and an instance built per clock: a
    page's fifty clocks hold a handful of policies over two calendars."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        policies = _policies()
        for clock in super().__iter__():
            policy = policies.get(clock.policy_id)
            if policy is not None:  # else made since the copy was read: read on access
                clock.policy = policy
            yield clock


# Where ``clock_prefetch`` leaves a ticket's clocks (``ticket_clocks`` reads them).
PREFETCHED_CLOCKS = "prefetched_clocks"


def clock_prefetch() -> Prefetch:
    """Prefetch a ticket queryset's clocks, with their policies and calendars from the
    process's copy: one query, whatever the page size (the calendars' hours and holidays:
    ``calendar_spec``)."""
    clocks = SlaClock.objects.order_by()  # ``ticket_clocks`` orders a ticket's two itself
    clocks._iterable_class = _SharedPolicies
    # A list on each ticket (``to_attr``), not the manager's cache: that one builds a
    # filtered queryset per ticket to hold its results (a few hundred calls per row).
    return Prefetch("sla_clocks", queryset=clocks, to_attr=PREFETCHED_CLOCKS)


def calendar_spec(calendar: BusinessCalendar) -> CalendarSpec:
    """The calendar's hours and holidays as data, kept per process until a calendar
    changes (``core.refcache``): read once (no query when they came with ``calendar``)."""
    return refcache.cached(("calendar_spec", calendar.pk), calendar.spec)


@dataclass(frozen=True)
class ClockView:
    clock: SlaClock
    target: str
    state: str
    breached: bool
    due_at: datetime | None  # while paused: the due moment if work resumed now
    elapsed_seconds: float
    remaining_seconds: float  # business seconds; negative when overdue
    percent: int
    level: str  # ok, warning, danger, breached, paused, met, cancelled
    paused_seconds: float = 0.0  # wall-clock time on hold, the pause in progress included
    working_day: float | None = None  # the calendar's usual working day (None: 24×7)

    @property
    def due_if_resumed(self) -> bool:
        """``due_at`` is a projection: the clock stands still until work resumes."""
        return self.level == "paused" and self.due_at is not None

    def business(self, seconds: float) -> str:
        """Business seconds of this clock's calendar in its own terms (working days)."""
        return engine.fmt_business(seconds, self.working_day)

    @property
    def target_label(self) -> str:
        return self.business(self.clock.target_seconds)

    @property
    def elapsed_label(self) -> str:
        return self.business(self.elapsed_seconds)

    @property
    def remaining_label(self) -> str:
        if self.state in ("met", "cancelled"):
            return self.state
        text = self.business(self.remaining_seconds)
        return f"{text} over" if self.remaining_seconds < 0 else f"{text} left"


def clock_view(
    clock: SlaClock, now: datetime | None = None, specs: Specs | None = None
) -> ClockView:
    """``specs``: the calendars' specs (and working days) by id, shared by the clocks of a
    page: each clock holds its own copy of its calendar, and building a spec costs more
    than the arithmetic."""
    now = now or timezone.now()
    specs = {} if specs is None else specs
    known = specs.get(clock.policy.calendar_id)
    if known is None:
        spec = calendar_spec(clock.policy.calendar)
        known = specs[clock.policy.calendar_id] = (spec, spec.working_day_seconds())
    spec, working_day = known
    elapsed = engine.elapsed_at(clock, spec, now)
    remaining = clock.target_seconds - elapsed
    due_at = clock.due_at
    if clock.paused_since is not None and clock.stopped_at is None and remaining > 0:
        due_at = spec.add(now, remaining)  # if work resumed now
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
        due_at,
        elapsed,
        remaining,
        percent,
        level,
        engine.paused_at(clock, now),
        working_day,
    )


def ticket_clocks(
    ticket: object,
    now: datetime | None = None,
    *,
    events: bool = False,
    specs: Specs | None = None,
) -> list[ClockView]:
    """The clocks of a ticket with ``sla_clocks`` (prefetched or not), response first;
    with ``events``, each clock's event log too (``clock.events.all()``) with the audit
    row that caused each event: one query for all of them, however long the log (a ticket
    page that shows "Why" would otherwise ask once per clock and once per event). A list
    passes one ``now`` and one ``specs`` dict for all its rows (see ``clock_view``)."""
    held = ticket.__dict__.get(PREFETCHED_CLOCKS)
    if held is None:
        held = ticket.sla_clocks.all()  # type: ignore[attr-defined]
    clocks = sorted(held, key=lambda c: c.target != "response")
    if events and clocks:
        prefetch_related_objects(
            clocks,
            Prefetch("events", queryset=SlaClockEvent.objects.select_related("audit_event")),
        )
    return [clock_view(c, now, specs) for c in clocks]
