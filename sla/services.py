"""The SLA engine's write path.

``clocks_sync`` is called by every service that changes a ticket, inside its transaction,
after the ticket's audit row is written. ``clocks_sweep`` is the periodic job that fires
thresholds. ``clock_breach_dispatch`` hands a breach to the apps that escalate.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import events, refcache
from core.models import AuditEvent
from core.services import audit_record, history_at, outbox_email
from sla import engine
from sla.calendar import CalendarSpec
from sla.interface import SlaTicket
from sla.models import BusinessCalendar, ClockEvent, SlaClock, SlaClockEvent, SlaPolicy
from sla.selectors import calendar_spec

log = logging.getLogger(__name__)


class SpecCache(dict[int, CalendarSpec]):
    """Calendar specs by calendar id, for the length of one operation."""

    def get_spec(self, calendar: BusinessCalendar) -> CalendarSpec:
        if calendar.pk not in self:
            self[calendar.pk] = calendar.spec()
        return self[calendar.pk]


def policy_for(ticket_type: str, priority: int | None, service_id: int | None) -> SlaPolicy | None:
    """The most specific active policy: a service's own beats the general one, a
    priority's own beats 'any priority'. Kept per process until a policy or calendar
    changes (``core.refcache``): every create and re-prioritisation asks. Read-only."""
    return refcache.cached(
        ("sla_policy", ticket_type, priority, service_id),
        lambda: _policy_for(ticket_type, priority, service_id),
    )


def _policy_for(ticket_type: str, priority: int | None, service_id: int | None) -> SlaPolicy | None:
    policy = (
        SlaPolicy.objects.filter(is_active=True, ticket_type=ticket_type)
        .filter(Q(priority=priority) | Q(priority__isnull=True))
        .filter(Q(service_id=service_id) | Q(service__isnull=True))
        .select_related("calendar")
        # the calendar's hours and holidays come along: the clocks' arithmetic and the
        # ticket's response read them from this object, never again
        .prefetch_related("calendar__periods", "calendar__holidays")
        .order_by(F("service_id").asc(nulls_last=True), F("priority").asc(nulls_last=True), "id")
        .first()
    )
    if policy is not None:  # the clocks' readers (calendar_spec) find its calendar kept too
        calendar_spec(policy.calendar)
    return policy


def _event(
    clock: SlaClock,
    kind: str,
    at: datetime,
    spec: CalendarSpec,
    audit: AuditEvent | None = None,
    percent: int | None = None,
    note: str = "",
) -> None:
    _event_row(clock, kind, at, spec, audit, percent, note).save()


def _event_row(
    clock: SlaClock,
    kind: str,
    at: datetime,
    spec: CalendarSpec,
    audit: AuditEvent | None = None,
    percent: int | None = None,
    note: str = "",
) -> SlaClockEvent:
    """The clock event, unsaved: ``clocks_sync`` writes a change's events in one INSERT."""
    return SlaClockEvent(
        clock=clock,
        kind=kind,
        at=at,
        elapsed_seconds=engine.elapsed_at(clock, spec, at),
        percent=percent,
        audit_event=audit,
        note=note[:255],
    )


def clocks_sync(
    *,
    ticket: SlaTicket,
    audit: AuditEvent | None = None,
    now: datetime | None = None,
    new_ticket: bool = False,
) -> list[SlaClock]:
    """Bring the ticket's clocks in line with its state, priority and service.

    Precondition: the caller holds the ticket's row lock, in its transaction; with
    ``new_ticket`` the ticket was inserted in this transaction, so it has no clocks yet
    and none are read (nor locked).
    Writes: clock rows, clock events (linked to ``audit``), and an ``sla_retargeted`` audit
    row when a priority or service change moved the ticket to another policy. New clocks
    go in one INSERT, the events in another.
    """
    now = now or (audit.created_at if audit is not None else timezone.now())
    snap = ticket.sla_snapshot()
    ct = ContentType.objects.get_for_model(ticket)
    clocks: dict[str, SlaClock] = (
        {}
        if new_ticket
        else {
            c.target: c
            for c in SlaClock.objects.select_for_update()
            .filter(content_type=ct, object_id=ticket.pk)
            .select_related("policy__calendar")
        }
    )
    policy = policy_for(snap.ticket_type, snap.priority, snap.service_id)
    specs = SpecCache()
    changes = engine.reconcile(
        clocks,
        snap,
        policy,
        now,
        spec_of=lambda p: specs.get_spec(p.calendar),
        new_clock=lambda target: SlaClock(content_type=ct, object_id=ticket.pk, target=target),
    )
    fresh = []
    for clock in clocks.values():
        _denormalise(clock, snap)
        if clock.pk is None:
            fresh.append(clock)
        else:
            clock.save()
    if fresh:
        SlaClock.objects.bulk_create(fresh)
        if any(c.pk is None for c in fresh):  # PostgreSQL and SQLite 3.35+ return them
            raise RuntimeError("This database returns no ids from a bulk insert.")
    rows = [
        _event_row(
            change.clock,
            change.kind,
            now,
            specs.get_spec(change.clock.policy.calendar),
            audit,
            note=change.note,
        )
        for change in changes
    ]
    if rows:
        SlaClockEvent.objects.bulk_create(rows)
    retargeted = [f"{c.clock.target}: {c.note}" for c in changes if c.kind == ClockEvent.RETARGETED]
    if retargeted:
        audit_record(
            target=ticket,
            actor=audit.actor if audit else None,
            action="sla_retargeted",
            comment="SLA re-targeted: "
            + "; ".join(retargeted)
            + " (elapsed and paused time kept).",
        )
    return list(clocks.values())


def _denormalise(clock: SlaClock, snap) -> None:  # type: ignore[no-untyped-def]
    """What reports group by, copied from the ticket at each change."""
    clock.priority = snap.priority
    clock.service_id = snap.service_id
    clock.team_id = snap.team_id


# --- the sweep ----------------------------------------------------------------------------
def clocks_sweep(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Fire every threshold that has come due. Returns the number of clocks handled.

    Claims due clocks in batches with ``SELECT … FOR UPDATE SKIP LOCKED`` through the
    partial index on ``next_check_at``, so several sweepers share the work and a threshold
    fires exactly once: the firing and the new ``next_check_at`` commit together.
    Never locks a ticket row (the request path locks ticket then clock), so it cannot
    deadlock with a transition.
    """
    now = now or timezone.now()
    handled = 0
    specs = SpecCache()
    while True:
        with transaction.atomic():
            claimed = list(
                SlaClock.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")
                .select_related("policy__calendar", "content_type")[:batch_size]
            )
            for clock in claimed:
                _check_thresholds(clock, specs.get_spec(clock.policy.calendar), now)
        handled += len(claimed)
        if len(claimed) < batch_size:
            return handled


def _check_thresholds(
    clock: SlaClock, spec: CalendarSpec, now: datetime, *, queue_breach: bool = True
) -> None:
    elapsed = engine.elapsed_at(clock, spec, now)
    ticket = None
    for percent in clock.thresholds:
        # a millisecond of slack: next_check_at was computed to that precision
        if percent <= clock.fired or elapsed + 0.001 < percent / 100 * clock.target_seconds:
            continue
        ticket = ticket or clock.content_type.get_object_for_this_type(pk=clock.object_id)
        _fire(clock, ticket, percent, elapsed, spec, now, queue_breach=queue_breach)
    engine.refresh_state(clock)
    engine.schedule(clock, spec)
    clock.save()


def _fire(
    clock: SlaClock,
    ticket: SlaTicket,
    percent: int,
    elapsed: float,
    spec: CalendarSpec,
    now: datetime,
    *,
    queue_breach: bool = True,
) -> None:
    clock.fired = percent
    label = clock.get_target_display()
    spent = f"{engine.fmt_clock(elapsed, spec)} of {engine.fmt_clock(clock.target_seconds, spec)}"
    if percent >= 100:
        clock.breached, clock.breached_at = True, now
        action, kind = "sla_breached", ClockEvent.BREACHED
        text = f"{label} SLA breached ({spent})."
        subject = f"[{ticket.key}] {label} SLA breached"
    else:
        action, kind = "sla_warning", ClockEvent.WARNING
        due = timezone.localtime(clock.due_at)
        text = f"{label} SLA at {percent}% ({spent}); due {due:%d %b %H:%M}."
        subject = f"[{ticket.key}] {label} SLA at {percent}%"
    audit = audit_record(
        target=ticket,
        actor=None,
        action=action,
        comment=text,
        changes={"sla": (clock.target, percent)},
    )
    _event(clock, kind, now, spec, audit, percent=percent)
    outbox_email(
        event=f"sla.{action.removeprefix('sla_')}",
        recipients=ticket.sla_watchers(),
        subject=subject,
        body=f"{text}\n\n{getattr(ticket, 'title', '')}",
        target=ticket,
    )
    if percent >= 100 and queue_breach:
        clock_id = clock.pk
        transaction.on_commit(lambda: _queue_breach(clock_id))


def _queue_breach(clock_id: int) -> None:
    from sla.tasks import clock_breach_handle  # tasks import this module

    try:
        clock_breach_handle.delay(clock_id)
    except Exception:  # broker down: the periodic re-dispatch picks it up
        log.warning("breach of clock %s left for the re-dispatch", clock_id, exc_info=True)


# --- breach hand-off ----------------------------------------------------------------------
def clock_breach_dispatch(clock_id: int) -> bool:
    """Publish ``sla.clock_breached`` once for a breached clock; subscribers escalate.

    Locks the ticket, then the clock (the request path's order), so the escalation and
    the "handled" mark commit together and a second call does nothing.
    """
    with transaction.atomic():
        head = SlaClock.objects.filter(pk=clock_id).select_related("content_type").first()
        if head is None:
            return False
        model = head.content_type.model_class()
        ticket = model.objects.select_for_update().get(pk=head.object_id)
        clock = SlaClock.objects.select_for_update().select_related("policy").get(pk=clock_id)
        if not clock.breached or clock.breach_handled_at is not None:
            return False
        events.publish(events.SLA_CLOCK_BREACHED, clock=clock, ticket=ticket)
        clock.breach_handled_at = timezone.now()
        clock.save(update_fields=["breach_handled_at"])
        return True


def clocks_catch_up(*, ticket: SlaTicket, now: datetime) -> int:
    """Fire what came due on one ticket's clocks up to ``now``, each threshold at its own
    moment and in order, through the sweep's and the breach dispatch's own code: the
    warnings, the breach and the escalation it causes are written into the ticket's
    history as of when they happened (``history_at``). Returns the thresholds fired.

    For backfilled history (the demo, imports), after ``sla.replay.clocks_rebuild``
    rebuilt the clocks as of the end of that history. Inside the caller's transaction;
    the caller suppresses notices (``outbox_suppressed``) — they belong to the past.
    """
    ct = ContentType.objects.get_for_model(ticket)
    # the request path's lock order (ticket, then its clocks): never a deadlock with it
    type(ticket).objects.select_for_update().filter(pk=ticket.pk).first()  # type: ignore[attr-defined]
    specs = SpecCache()
    fired = 0
    while True:
        clock = (
            SlaClock.objects.select_for_update()
            .filter(content_type=ct, object_id=ticket.pk, next_check_at__lte=now)
            .select_related("policy__calendar", "content_type")
            .order_by("next_check_at", "id")
            .first()
        )
        if clock is None:
            return fired
        moment = clock.next_check_at
        before = clock.fired
        with history_at(moment):
            _check_thresholds(
                clock, specs.get_spec(clock.policy.calendar), moment, queue_breach=False
            )
            if clock.breached and clock.breach_handled_at is None:
                clock_breach_dispatch(clock.pk)
                SlaClock.objects.filter(pk=clock.pk).update(breach_handled_at=moment)
        fired += int(clock.fired > before)
        if clock.fired <= before:  # nothing came due after all: never loop on it
            return fired


def breaches_pending_ids(limit: int = 200) -> list[int]:
    return list(
        SlaClock.objects.filter(breached=True, breach_handled_at__isnull=True)
        .order_by("breached_at")
        .values_list("pk", flat=True)[:limit]
    )
