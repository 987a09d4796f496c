"""The clock state machine as functions of (clock, calendar, moment). The live path
(``sla.services``) and the replay of a ticket's history (``sla.replay``) both drive clocks
through these, so a replay gives the live result by construction and a test proves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sla.calendar import CalendarSpec
from sla.interface import TicketSnapshot
from sla.models import ClockEvent, ClockState, SlaClock, SlaPolicy, Target

# What the ticket's state asks of a clock.
RUN, PAUSE, STOP, CANCEL = "run", "pause", "stop", "cancel"


def desired(snapshot: TicketSnapshot, target: str, policy: SlaPolicy | None) -> str:
    if snapshot.cancelled:
        return CANCEL
    if snapshot.resolved or (target == Target.RESPONSE and snapshot.responded):
        return STOP
    if policy is not None and snapshot.status in (policy.pause_states or []):
        return PAUSE
    return RUN


def refresh_state(clock: SlaClock) -> None:
    """The displayed stage, derived from the clock's facts."""
    if clock.state == ClockState.CANCELLED:
        return
    if clock.stopped_at is not None:
        clock.state = ClockState.BREACHED if clock.breached else ClockState.MET
    elif clock.paused_since is not None:
        clock.state = ClockState.PAUSED
    else:
        clock.state = ClockState.BREACHED if clock.breached else ClockState.RUNNING


def elapsed_at(clock: SlaClock, spec: CalendarSpec, now: datetime) -> float:
    """Business seconds spent on the target up to ``now``."""
    if clock.running_since is None:
        return clock.elapsed_seconds
    return clock.elapsed_seconds + spec.business_seconds(clock.running_since, now)


def paused_at(clock: SlaClock, now: datetime) -> float:
    if clock.paused_since is None:
        return clock.paused_seconds
    return clock.paused_seconds + max(0.0, (now - clock.paused_since).total_seconds())


def advance(clock: SlaClock, spec: CalendarSpec, now: datetime) -> None:
    """Fold the time since the last change into the totals."""
    if clock.running_since is not None:
        clock.elapsed_seconds = elapsed_at(clock, spec, now)
        clock.running_since = now
    if clock.paused_since is not None:
        clock.paused_seconds = paused_at(clock, now)
        clock.paused_since = now


def schedule(clock: SlaClock, spec: CalendarSpec) -> None:
    """Set ``due_at`` and ``next_check_at`` (the next threshold moment) for a ticking clock."""
    if clock.running_since is None:
        clock.next_check_at = None
        if clock.stopped_at is not None or clock.state == ClockState.CANCELLED:
            return
        clock.due_at = None  # paused: no due moment until it runs again
        return
    remaining = clock.target_seconds - clock.elapsed_seconds
    if remaining > 0 or clock.due_at is None:
        clock.due_at = spec.add(clock.running_since, max(remaining, 0))
    pending = [p for p in clock.thresholds if p > clock.fired]
    if not pending:
        clock.next_check_at = None
        return
    needed = pending[0] / 100 * clock.target_seconds - clock.elapsed_seconds
    clock.next_check_at = spec.add(clock.running_since, max(needed, 0))


def start(
    clock: SlaClock, policy: SlaPolicy, spec: CalendarSpec, now: datetime, action: str
) -> str:
    clock.policy = policy
    clock.target_seconds = policy.target_seconds(clock.target)
    clock.thresholds = policy.thresholds()
    clock.started_at = now
    if action == PAUSE:
        clock.paused_since = now
    else:
        clock.running_since = now
    refresh_state(clock)
    schedule(clock, spec)
    return ClockEvent.STARTED


def apply(clock: SlaClock, action: str, spec: CalendarSpec, now: datetime) -> str | None:
    """Move a clock to what the ticket asks; returns the event kind, or None if nothing
    changed."""
    if clock.state == ClockState.CANCELLED:
        return None
    advance(clock, spec, now)
    event: str | None = None
    if action == CANCEL:
        clock.running_since = clock.paused_since = None
        clock.stopped_at = now
        clock.state = ClockState.CANCELLED
        clock.next_check_at = None
        return ClockEvent.CANCELLED
    if action == STOP and clock.stopped_at is None:
        clock.running_since = clock.paused_since = None
        clock.stopped_at = now
        if clock.elapsed_seconds >= clock.target_seconds and not clock.breached:
            # missed, but the sweep had not noticed yet: record the miss, never escalate it
            clock.breached = True
            clock.breached_at = now
            clock.breach_handled_at = now
        event = ClockEvent.MET if not clock.breached else ClockEvent.BREACHED
    elif action in (RUN, PAUSE) and clock.stopped_at is not None:
        clock.stopped_at = None  # reopened: the time already spent counts
        if action == RUN:
            clock.running_since = now
        else:
            clock.paused_since = now
        event = ClockEvent.RESTARTED
    elif action == PAUSE and clock.running_since is not None:
        clock.running_since = None
        clock.paused_since = now
        event = ClockEvent.PAUSED
    elif action == RUN and clock.paused_since is not None:
        clock.paused_since = None
        clock.running_since = now
        event = ClockEvent.RESUMED
    refresh_state(clock)
    schedule(clock, spec)
    return event


def retarget(
    clock: SlaClock,
    policy: SlaPolicy,
    spec_old: CalendarSpec,
    spec_new: CalendarSpec,
    now: datetime,
) -> str:
    """Switch to another policy (priority or service changed). Elapsed business time and
    time spent paused are kept; only the target and calendar change from now on."""
    advance(clock, spec_old, now)
    old = clock.target_seconds
    clock.policy = policy
    clock.target_seconds = policy.target_seconds(clock.target)
    clock.thresholds = policy.thresholds()
    if clock.stopped_at is None:
        clock.due_at = None  # recomputed against the new target (now, if already overdue)
    refresh_state(clock)
    schedule(clock, spec_new)
    return f"target {fmt_clock(old, spec_old)} → {fmt_clock(clock.target_seconds, spec_new)}"


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 10:
        # short targets (and the last minutes of long ones) need their seconds
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def fmt_duration(seconds: float) -> str:
    return _fmt(abs(seconds))


def fmt_business(seconds: float, working_day: float | None) -> str:
    """Business time as people count it: hours under a working day, working days (of
    the calendar's usual day) and hours beyond it; a 24×7 calendar's time in hours.
    24 business hours of a 09:00–17:00 calendar read "3 working days", never "1d"."""
    seconds = abs(seconds)
    if not working_day or seconds < working_day:
        return _fmt(seconds)
    days, rest = divmod(int(round(seconds)), int(working_day))
    text = f"{days} working day{'s' if days != 1 else ''}"
    return f"{text} {_fmt(rest)}" if rest >= 60 else text


def fmt_clock(seconds: float, spec: CalendarSpec) -> str:
    return fmt_business(seconds, spec.working_day_seconds())


@dataclass
class Change:
    clock: SlaClock
    kind: str
    note: str = ""


def reconcile(
    clocks: dict[str, SlaClock],
    snapshot: TicketSnapshot,
    policy: SlaPolicy | None,
    now: datetime,
    spec_of: Callable[[SlaPolicy], CalendarSpec],
    new_clock: Callable[[str], SlaClock],
) -> list[Change]:
    """Bring a ticket's clocks (by target) in line with its snapshot at ``now``.

    Creates missing clocks with ``new_clock``; returns what happened, in order. Pure but
    for the callables, so the live path and the replay share it.
    """
    changes: list[Change] = []
    for target in Target.values:
        clock = clocks.get(target)
        action = desired(snapshot, target, policy)
        if clock is None:
            if policy is None or action in (STOP, CANCEL):
                continue
            clock = clocks[target] = new_clock(target)
            changes.append(
                Change(
                    clock,
                    start(clock, policy, spec_of(policy), now, action),
                    f"policy {policy.name}",
                )
            )
            if action == PAUSE:
                changes.append(Change(clock, ClockEvent.PAUSED))
            continue
        spec = spec_of(clock.policy)
        if policy is not None and policy.pk != clock.policy_id and clock.state != "cancelled":
            note = retarget(clock, policy, spec, spec_of(policy), now)
            spec = spec_of(policy)
            changes.append(Change(clock, ClockEvent.RETARGETED, f"policy {policy.name}; {note}"))
        kind = apply(clock, action, spec, now)
        if kind:
            changes.append(Change(clock, kind))
    return changes
