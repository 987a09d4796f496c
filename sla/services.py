"""The SLA engine's write path.

``clocks_sync`` is called by every service that changes a ticket, inside its transaction,
after the ticket's audit row is written. ``clocks_sweep`` is the periodic job that fires
thresholds. ``clock_breach_dispatch`` hands a breach to the apps that escalate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import events, refcache
from core.models import AuditEvent
from core.services import (
    AuditEntry,
    OutboxEmail,
    audit_record,
    audit_record_many,
    history_at,
    outbox_email_many,
)
from sla import engine
from sla.calendar import CalendarSpec
from sla.interface import SlaTicket, tickets_for_sla
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
    ticket_due_sync(ticket, clocks.values())
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


def ticket_due_sync(ticket: SlaTicket, clocks: Iterable[SlaClock]) -> None:
    """Hand the ticket its clocks' earliest due moment (a ticking clock's; None when none
    ticks) when it keeps one (``SlaTicket.sla_due_moved``): its queues order by it off an
    index instead of aggregating the clocks."""
    moved = getattr(ticket, "sla_due_moved", None)
    if moved is None:
        return
    ticking = [
        c.due_at
        for c in clocks
        if c.running_since is not None and c.stopped_at is None and c.due_at is not None
    ]
    moved(min(ticking, default=None))


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
    fires exactly once: the firing and the new ``next_check_at`` commit together. Each
    batch is set work (``thresholds_fire``): a constant number of queries, however many
    clocks it holds.
    Never locks a ticket row (the request path locks ticket then clock), so it cannot
    deadlock with a transition.
    """
    now = now or timezone.now()
    handled = 0
    specs = PolicySpecs()
    while True:
        with transaction.atomic():
            claimed = list(
                SlaClock.objects.select_for_update(skip_locked=True)
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")[:batch_size]
            )
            thresholds_fire(claimed, now=now, specs=specs)
        handled += len(claimed)
        if len(claimed) < batch_size:
            return handled


class PolicySpecs:
    """Calendar specs by policy id, for the length of one operation: the policies a batch
    of clocks names in one query (their calendars' hours and holidays with it), each
    calendar's spec built once."""

    def __init__(self) -> None:
        self.calendars = SpecCache()
        self.by_policy: dict[int, CalendarSpec] = {}

    def load(self, clocks: list[SlaClock]) -> None:
        missing = {c.policy_id for c in clocks} - self.by_policy.keys()
        if not missing:
            return
        policies = (
            SlaPolicy.objects.filter(pk__in=missing)
            .select_related("calendar")
            .prefetch_related("calendar__periods", "calendar__holidays")
        )
        for policy in policies:
            self.by_policy[policy.pk] = self.calendars.get_spec(policy.calendar)

    def __getitem__(self, policy_id: int) -> CalendarSpec:
        return self.by_policy[policy_id]


@dataclass
class _Firing:
    """One threshold that fired, and what it writes."""

    clock: SlaClock
    ticket: SlaTicket
    percent: int
    elapsed: float
    action: str  # of the audit row
    kind: str  # of the clock event
    text: str
    subject: str


def thresholds_fire(
    clocks: list[SlaClock],
    *,
    now: datetime,
    specs: PolicySpecs | None = None,
    queue_breach: bool = True,
) -> None:
    """Fire what came due on ``clocks`` at ``now`` and schedule their next check: the one
    threshold logic of the sweep and of ``clocks_catch_up``.

    Precondition: the caller holds the clocks' row locks, in its transaction.
    Writes, in bulk whatever the number of clocks: per threshold fired one audit row on
    the ticket (``sla_warning`` / ``sla_breached``, no actor), one clock event linked to
    it and one e-mail to the ticket's ``sla_watchers`` (``sla.warning`` /
    ``sla.breached``); then the clocks. A breach queues its escalation after commit
    (``_queue_breach``) unless ``queue_breach`` is False.
    """
    if not clocks:
        return
    specs = specs or PolicySpecs()
    specs.load(clocks)
    due: list[tuple[SlaClock, float, list[int]]] = []
    for clock in clocks:
        elapsed = engine.elapsed_at(clock, specs[clock.policy_id], now)
        percents = [
            p
            for p in clock.thresholds
            # a millisecond of slack: next_check_at was computed to that precision
            if p > clock.fired and elapsed + 0.001 >= p / 100 * clock.target_seconds
        ]
        due.append((clock, elapsed, percents))
    tickets = _tickets_of([clock for clock, _, percents in due if percents])
    firings: list[_Firing] = []
    for clock, elapsed, percents in due:
        spec = specs[clock.policy_id]
        ticket = tickets.get((clock.content_type_id, clock.object_id))
        if percents and ticket is None:
            # its ticket is gone: nobody to warn, and never due again
            log.warning("clock %s: ticket %s is gone, not checked again", clock.pk, clock.object_id)
            clock.next_check_at = None
            continue
        for percent in percents:
            firings.append(_fire(clock, ticket, percent, elapsed, spec, now))  # type: ignore[arg-type]
        engine.refresh_state(clock)
        engine.schedule(clock, spec)
    _firings_write(firings, now)
    _clocks_update(clocks, ["fired", "breached", "breached_at", "state", "due_at", "next_check_at"])
    if queue_breach:
        for clock_id in [f.clock.pk for f in firings if f.percent >= 100]:
            transaction.on_commit(lambda clock_id=clock_id: _queue_breach(clock_id))


def _clocks_update(clocks: list[SlaClock], names: list[str]) -> None:
    """Write ``names`` of every clock in one ``UPDATE … FROM (VALUES …)`` (PostgreSQL,
    SQLite 3.33+): ``bulk_update`` builds a ``CASE`` per row and field, which costs more
    Python than the rest of a batch together."""
    fields = [SlaClock._meta.get_field(n) for n in names]
    pk = SlaClock._meta.pk
    on_pg = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    # PostgreSQL types VALUES by their first row (a column of NULLs is text): cast
    cast = (
        (lambda f, col: f"CAST({col} AS {f.db_type(connection)})")
        if on_pg
        else (lambda f, col: col)
    )
    columns = ", ".join(["id", *(f"v{i}" for i in range(len(fields)))])
    sets = ", ".join(f"{quote(f.column)} = {cast(f, f'v.v{i}')}" for i, f in enumerate(fields))
    for start in range(0, len(clocks), 1000):  # SQLite's 32 766 parameters, with room
        chunk = clocks[start : start + 1000]
        row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        params: list[Any] = []
        for clock in chunk:
            params.append(clock.pk)
            if on_pg:  # psycopg2 adapts these types itself, at a tenth of the cost
                params.extend(getattr(clock, f.attname) for f in fields)
            else:
                params.extend(
                    f.get_db_prep_save(getattr(clock, f.attname), connection) for f in fields
                )
        sql = (
            f"WITH v({columns}) AS (VALUES {', '.join([row] * len(chunk))}) "
            f"UPDATE {quote(SlaClock._meta.db_table)} SET {sets} "
            f"FROM v WHERE {quote(SlaClock._meta.db_table)}.{quote(pk.column)} = "
            f"{cast(pk, 'v.id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _tickets_of(clocks: list[SlaClock]) -> dict[tuple[int, int], SlaTicket]:
    """The clocks' tickets by (content type id, id): one query per ticket type, with what
    their ``sla_watchers`` reads (``sla.interface.tickets_for_sla``)."""
    wanted: dict[int, set[int]] = {}
    for clock in clocks:
        wanted.setdefault(clock.content_type_id, set()).add(clock.object_id)
    found: dict[tuple[int, int], SlaTicket] = {}
    for ct_id, pks in wanted.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:  # a ticket type since removed: its clocks have no ticket
            continue
        for ticket in tickets_for_sla(model, pks):
            found[(ct_id, ticket.pk)] = ticket
    return found


def _fire(
    clock: SlaClock,
    ticket: SlaTicket,
    percent: int,
    elapsed: float,
    spec: CalendarSpec,
    now: datetime,
) -> _Firing:
    """Mark ``percent`` fired on ``clock``; what it writes, worded for people."""
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
    return _Firing(clock, ticket, percent, elapsed, action, kind, text, subject)


def _firings_write(firings: list[_Firing], now: datetime) -> None:
    """The audit rows, clock events (each linked to its audit row) and e-mails of
    ``firings``: one INSERT each (``core.services``' bulk paths write what the one-row
    paths write)."""
    if not firings:
        return
    audits = audit_record_many(
        entries=[
            AuditEntry(
                target=f.ticket,  # type: ignore[arg-type]
                actor=None,
                action=f.action,
                comment=f.text,
                changes={"sla": (f.clock.target, f.percent)},
            )
            for f in firings
        ]
    )
    SlaClockEvent.objects.bulk_create(
        SlaClockEvent(
            clock_id=f.clock.pk,
            kind=f.kind,
            at=now,
            elapsed_seconds=f.elapsed,
            percent=f.percent,
            audit_event_id=audit.pk,
        )
        for f, audit in zip(firings, audits, strict=True)
    )
    outbox_email_many(
        emails=[
            OutboxEmail(
                event=f"sla.{f.action.removeprefix('sla_')}",
                recipients=f.ticket.sla_watchers(),
                subject=f.subject,
                body=f"{f.text}\n\n{getattr(f.ticket, 'title', '')}",
                target=f.ticket,  # type: ignore[arg-type]
            )
            for f in firings
        ]
    )


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
    specs = PolicySpecs()
    fired = 0
    while True:
        clock = (
            SlaClock.objects.select_for_update()
            .filter(content_type=ct, object_id=ticket.pk, next_check_at__lte=now)
            .order_by("next_check_at", "id")
            .first()
        )
        if clock is None:
            return fired
        moment = clock.next_check_at
        before = clock.fired
        with history_at(moment):
            thresholds_fire([clock], now=moment, specs=specs, queue_breach=False)
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
