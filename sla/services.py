"""The SLA engine's write path.

``clocks_sync`` is called by every service that changes a ticket, inside its transaction,
after the ticket's audit row is written. ``clocks_sweep`` is the periodic job that fires
thresholds. ``clock_breach_dispatch`` hands a breach to the apps that escalate.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from core import events, refcache
from core.models import AuditEvent
from core.services import (
    AuditRow,
    OutboxEmail,
    audit_record,
    audit_rows_insert,
    db_datetime,
    history_at,
    json_rows,
    json_rows_select,
    moment_now,
    outbox_email_many,
    outbox_is_suppressed,
    rows_insert,
)
from sla import engine
from sla.calendar import CalendarSpec
from sla.interface import SlaKept, SlaMarks, SlaTicket
from sla.models import (
    BusinessCalendar,
    ClockEvent,
    ClockState,
    SlaClock,
    SlaClockEvent,
    SlaPolicy,
    Target,
)
from sla.selectors import calendar_spec

log = logging.getLogger(__name__)


class SpecCache(dict[int, CalendarSpec]):
    """Calendar specs by calendar id, for the length of one operation: each the process's
    own (``sla.selectors.calendar_spec``), so what a spec keeps (its running sums of
    working days) serves the next operation too."""

    def get_spec(self, calendar: BusinessCalendar) -> CalendarSpec:
        if calendar.pk not in self:
            self[calendar.pk] = calendar_spec(calendar)
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
    ticket_marks_sync(ticket, clocks.values())
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


def clock_marks(clocks: Iterable[SlaClock | Any]) -> SlaMarks:
    """What a ticket keeps from its clocks (``sla.interface.SlaKept``); the same as
    ``marks_select`` computes in SQL."""
    due, breached, risk = [], False, []
    for c in clocks:
        if c.state == ClockState.CANCELLED:
            continue
        breached = breached or c.breached
        if c.running_since is None or c.stopped_at is not None or c.due_at is None:
            continue
        due.append(c.due_at)
        if not c.breached and 0 < c.fired < 100:
            risk.append(c.due_at)
    return SlaMarks(due=min(due, default=None), breached=breached, risk_due=max(risk, default=None))


def ticket_marks_sync(ticket: SlaTicket, clocks: Iterable[SlaClock]) -> None:
    """Write what the ticket keeps from its clocks (``SlaTicket.SLA_KEPT``: the earliest
    due moment, breached, the latest warned due moment) when it keeps any: its queues
    order and filter by them off its own row instead of reading the clocks. One UPDATE of
    the columns that moved, none when nothing did.

    Precondition: the caller holds the ticket's row lock (as ``clocks_sync``'s callers
    do), so the ticket object holds the row's current values."""
    kept: SlaKept | None = getattr(type(ticket), "SLA_KEPT", None)
    if kept is None:
        return
    marks = clock_marks(clocks)
    deferred = ticket.get_deferred_fields()  # type: ignore[attr-defined]
    moved = {
        field: getattr(marks, name)
        for name, field in kept.columns().items()
        if field in deferred or getattr(ticket, field) != getattr(marks, name)
    }
    if moved:
        for field, value in moved.items():
            setattr(ticket, field, value)
        type(ticket)._default_manager.filter(pk=ticket.pk).update(**moved)  # type: ignore[attr-defined]


def marks_select(content_type_id: int, *, some: bool) -> tuple[str, list[Any]]:
    """SQL of ``clock_marks`` for every ticket of a type that has clocks: rows of
    (ticket id, due, breached, risk_due); with ``some`` for the ids of one more parameter
    (a list), appended by the caller."""
    ticking = "running_since IS NOT NULL AND stopped_at IS NULL"
    warned = f"{ticking} AND NOT breached AND fired > 0 AND fired < 100"
    live = f"state <> '{ClockState.CANCELLED}'"
    if connection.vendor == "postgresql":
        breached = f"COALESCE(BOOL_OR(breached AND {live}), false)"
        ids = " AND object_id = ANY(%s::bigint[])"
    else:
        breached = f"COALESCE(MAX(breached AND {live}), 0)"
        ids = " AND object_id IN (SELECT value FROM json_each(%s))"
    sql = (
        f"SELECT object_id, MIN(CASE WHEN {ticking} THEN due_at END) AS due, "
        f"{breached} AS breached, MAX(CASE WHEN {warned} THEN due_at END) AS risk_due "
        f"FROM {SlaClock._meta.db_table} WHERE content_type_id = %s"
        f"{ids if some else ''} AND ({ticking} OR breached) GROUP BY object_id"
    )
    return sql, [content_type_id]


def _kept_update(model: type[Any], marks_sql: str, params: list[Any]) -> int:
    """Set ``model``'s kept columns from ``marks_sql``'s rows where they moved; returns
    the tickets changed."""
    kept: SlaKept = model.SLA_KEPT
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = {name: quote(model._meta.get_field(f).column) for name, f in kept.columns().items()}
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    sets = ", ".join(f"{col} = m.{name}" for name, col in columns.items())
    moved = " OR ".join(f"{table}.{col} {differs} m.{name}" for name, col in columns.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM ({marks_sql}) AS m "
            f"WHERE {table}.{quote(model._meta.pk.column)} = m.object_id AND ({moved})",
            params,
        )
        return cursor.rowcount


def tickets_marks_sync(model: type[Any], pks: Iterable[int]) -> int:
    """``ticket_marks_sync`` for many tickets of ``model`` in one UPDATE, from their clocks
    as they are in the database (the sweep, after writing its clocks). Returns the
    tickets changed; only their rows are written.

    Precondition: the caller holds the tickets' row locks."""
    pks = list(pks)
    if not pks or getattr(model, "SLA_KEPT", None) is None:
        return 0
    ct = ContentType.objects.get_for_model(model).pk
    sql, params = marks_select(ct, some=True)
    ids: Any = pks if connection.vendor == "postgresql" else json.dumps(pks)
    return _kept_update(model, sql, [*params, ids])


def tickets_marks_rebuild(model: type[Any]) -> int:
    """Every ticket's kept columns from its clocks (after a bulk load that wrote clocks
    without the engine); returns the tickets changed. One transaction."""
    kept: SlaKept | None = getattr(model, "SLA_KEPT", None)
    if kept is None:
        return 0
    ct = ContentType.objects.get_for_model(model).pk
    sql, params = marks_select(ct, some=False)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    defaults = {
        "due": "NULL",
        "breached": "false" if connection.vendor == "postgresql" else "0",
        "risk_due": "NULL",
    }
    columns = {name: quote(model._meta.get_field(f).column) for name, f in kept.columns().items()}
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    with transaction.atomic(), connection.cursor() as cursor:
        # tickets with no clock that counts: the defaults
        cursor.execute(
            f"UPDATE {table} SET "
            + ", ".join(f"{col} = {defaults[name]}" for name, col in columns.items())
            + " WHERE ("
            + " OR ".join(f"{col} {differs} {defaults[name]}" for name, col in columns.items())
            + f") AND {quote(model._meta.pk.column)} NOT IN (SELECT object_id FROM ({sql}) AS m)",
            params,
        )
        changed = cursor.rowcount
        return changed + _kept_update(model, sql, params)


def _denormalise(clock: SlaClock, snap) -> None:  # type: ignore[no-untyped-def]
    """What reports group by, copied from the ticket at each change."""
    clock.priority = snap.priority
    clock.service_id = snap.service_id
    clock.team_id = snap.team_id


# --- the sweep ----------------------------------------------------------------------------
def clocks_sweep(*, now: datetime | None = None, batch_size: int = 2000) -> int:
    """Fire every threshold that has come due. Returns the number of clocks handled.

    Claims due clocks in batches with ``SELECT … FOR UPDATE SKIP LOCKED`` through the
    partial index on ``next_check_at``, so several sweepers share the work and a threshold
    fires exactly once: the firing and the new ``next_check_at`` commit together. Each
    batch is set work (``thresholds_fire``): a constant number of queries, however many
    clocks it holds.
    Never waits for a ticket row (the request path locks ticket then clock): the tickets
    whose SLA marks it writes are locked with ``SKIP LOCKED``, and a clock whose ticket
    a transition holds is left due, retried after ``BUSY_PAUSE`` (at most
    ``BUSY_RETRIES`` times, outside any transaction), else by the next sweep; so it cannot
    deadlock with a transition. A batch of 2 000 holds its clocks for a few tenths of a
    second; each batch's commit (a WAL flush) and queries cost as much as some hundred
    clocks, so smaller batches are slower (bench/README.md).
    """
    now = now or timezone.now()
    handled = 0
    specs = PolicySpecs()
    thresholds = _Thresholds()
    waits = 0
    while True:
        with transaction.atomic():
            claimed = [
                DueClock(*row[:-1], thresholds[row[-1]])
                for row in SlaClock.objects.select_for_update(skip_locked=True)
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")
                .values_list(*DUE_COLUMNS, Cast("thresholds", TextField()))[:batch_size]
            ]
            done = thresholds_fire(claimed, now=now, specs=specs)
        handled += done
        if len(claimed) < batch_size:
            if done == len(claimed) or waits >= BUSY_RETRIES:
                return handled
            # some tickets were held by changes under way (a transition, another
            # sweeper's batch): a moment for them to commit, then their clocks again
            waits += 1
            time.sleep(BUSY_PAUSE)


# A batch that left clocks because their tickets were locked tries them again this many
# times, this many seconds apart, before leaving them to the next sweep.
BUSY_RETRIES = 20
BUSY_PAUSE = 0.05


class _Thresholds(dict[str, list[int]]):
    """Threshold lists by their JSON text: a sweep meets a few distinct ones, so each is
    parsed once (the JSON field's own converter parses every row's)."""

    def __missing__(self, text: str) -> list[int]:
        value: list[int] = json.loads(text)
        self[text] = value
        return value


class DueClock:
    """A claimed clock as the sweep reads and writes it: the columns ``thresholds_fire``
    and the engine's ``elapsed_at``, ``refresh_state`` and ``schedule`` use, as plain
    attributes. A model instance costs more to build than the sweep spends on its clock."""

    __slots__ = (
        "id",
        "content_type_id",
        "object_id",
        "target",
        "policy_id",
        "target_seconds",
        "state",
        "breached",
        "breached_at",
        "elapsed_seconds",
        "running_since",
        "paused_since",
        "stopped_at",
        "due_at",
        "next_check_at",
        "fired",
        "thresholds",  # last: the claim reads it as text (_Thresholds)
    )

    def __init__(  # noqa: PLR0913
        self,
        id: Any,
        content_type_id: Any,
        object_id: Any,
        target: Any,
        policy_id: Any,
        target_seconds: Any,
        state: Any,
        breached: Any,
        breached_at: Any,
        elapsed_seconds: Any,
        running_since: Any,
        paused_since: Any,
        stopped_at: Any,
        due_at: Any,
        next_check_at: Any,
        fired: Any,
        thresholds: Any,
    ) -> None:
        self.id = id
        self.content_type_id = content_type_id
        self.object_id = object_id
        self.target = target
        self.policy_id = policy_id
        self.target_seconds = target_seconds
        self.state = state
        self.breached = breached
        self.breached_at = breached_at
        self.elapsed_seconds = elapsed_seconds
        self.running_since = running_since
        self.paused_since = paused_since
        self.stopped_at = stopped_at
        self.due_at = due_at
        self.next_check_at = next_check_at
        self.fired = fired
        self.thresholds = thresholds

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[no-any-return]


DUE_COLUMNS = DueClock.__slots__[:-1]


# What a clock's target is called in its warnings (SlaClock.get_target_display).
_TARGET_LABELS = {value: str(label) for value, label in Target.choices}


class PolicySpecs:
    """Calendar specs by policy id, for the length of one operation: the policies a batch
    of clocks names in one query (their calendars' hours and holidays with it), each
    calendar's spec built once."""

    def __init__(self) -> None:
        self.calendars = SpecCache()
        self.by_policy: dict[int, CalendarSpec] = {}
        self._texts: dict[tuple[int, float], str] = {}

    def load(self, clocks: Sequence[SlaClock | DueClock]) -> None:
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

    def fmt(self, policy_id: int, seconds: float) -> str:
        """``engine.fmt_clock`` of the policy's calendar, remembered: a batch's targets
        (and, a moment after they came due, its elapsed times) repeat."""
        key = (policy_id, seconds)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) > 10_000:  # elapsed times vary: never grow without end
                self._texts.clear()
            text = self._texts[key] = engine.fmt_clock(seconds, self.by_policy[policy_id])
        return text


@dataclass
class _Firing:
    """One threshold that fired, and what it writes."""

    clock: SlaClock | DueClock
    percent: int
    elapsed: float
    action: str  # of the audit row
    kind: str  # of the clock event
    text: str


def thresholds_fire(
    clocks: Sequence[SlaClock | DueClock],
    *,
    now: datetime,
    specs: PolicySpecs | None = None,
    queue_breach: bool = True,
) -> int:
    """Fire what came due on ``clocks`` at ``now`` and schedule their next check: the one
    threshold logic of the sweep and of ``clocks_catch_up``.

    Precondition: the caller holds the clocks' row locks, in its transaction.
    Writes, in bulk whatever the number of clocks: per threshold fired one audit row on
    the ticket (``sla_warning`` / ``sla_breached``, no actor), one clock event linked to
    it and one e-mail to the ticket's ``sla_watchers`` (``sla.warning`` /
    ``sla.breached``); then the clocks. A breach queues its escalation after commit
    (``_queue_breach``) unless ``queue_breach`` is False. Then what the tickets keep from
    their clocks (``tickets_marks_sync``), for those whose threshold fired.
    Returns the clocks handled: a clock whose ticket another transaction holds is left
    untouched, due, for the next sweep (``_tickets_of``).
    """
    if not clocks:
        return 0
    specs = specs or PolicySpecs()
    specs.load(clocks)
    due: list[tuple[SlaClock | DueClock, float, list[int]]] = []
    for clock in clocks:
        elapsed = engine.elapsed_at(clock, specs[clock.policy_id], now)  # type: ignore[arg-type]
        percents = [
            p
            for p in clock.thresholds
            # a millisecond of slack: next_check_at was computed to that precision
            if p > clock.fired and elapsed + 0.001 >= p / 100 * clock.target_seconds
        ]
        due.append((clock, elapsed, percents))
    mailing = not outbox_is_suppressed()
    tickets, busy = _tickets_of([clock for clock, _, percents in due if percents], whole=mailing)
    local = timezone.get_current_timezone()
    firings: list[_Firing] = []
    done: list[SlaClock | DueClock] = []
    for clock, elapsed, percents in due:
        spec = specs[clock.policy_id]
        key = (clock.content_type_id, clock.object_id)
        if percents and key in busy:
            continue  # its ticket is locked by a change under way: the next sweep fires it
        done.append(clock)
        if percents and key not in tickets:
            # its ticket is gone: nobody to warn, and never due again
            log.warning("clock %s: ticket %s is gone, not checked again", clock.pk, clock.object_id)
            clock.next_check_at = None
            continue
        for percent in percents:
            firings.append(_fire(clock, percent, elapsed, specs, now, local))
        engine.refresh_state(clock)  # type: ignore[arg-type]
        engine.schedule(clock, spec)  # type: ignore[arg-type]
    _firings_write(firings, now, tickets)
    _clocks_update(done, ["fired", "breached", "breached_at", "state", "due_at", "next_check_at"])
    fired: dict[int, set[int]] = {}
    for f in firings:
        fired.setdefault(f.clock.content_type_id, set()).add(f.clock.object_id)
    for ct_id, pks in fired.items():
        # what the tickets keep (at risk, breached) moves with the clocks, in one UPDATE
        tickets_marks_sync(ContentType.objects.get_for_id(ct_id).model_class(), pks)  # type: ignore[arg-type]
    breached = [f.clock.pk for f in firings if f.percent >= 100]
    if queue_breach and breached:
        transaction.on_commit(lambda: [_queue_breach(clock_id) for clock_id in breached])
    return len(done)


def _clocks_update(clocks: Sequence[SlaClock | DueClock], names: list[str]) -> None:
    """Write ``names`` of every clock in one UPDATE: joined to the rows passed as one JSON
    parameter on PostgreSQL (``core.services.json_rows``), to a ``VALUES`` list on SQLite
    (3.33+). ``bulk_update`` builds a ``CASE`` per row and field, which costs more Python
    than the rest of a batch together."""
    if not clocks:
        return
    fields = [SlaClock._meta.get_field(n) for n in names]
    attnames = [f.attname for f in fields]  # type: ignore[union-attr]
    quote = connection.ops.quote_name
    table = quote(SlaClock._meta.db_table)
    pk = quote(SlaClock._meta.pk.column)  # type: ignore[union-attr]
    sets = ", ".join(f"{quote(f.column)} = v.v{i}" for i, f in enumerate(fields))  # type: ignore[union-attr]
    if connection.vendor == "postgresql":
        values = ", ".join(f"v{i}" for i in range(len(fields)))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {sets} "
                f"FROM (SELECT {json_rows_select([SlaClock._meta.pk, *fields])} "
                f"FROM json_array_elements(%s::json) AS j(r)) AS v(id, {values}) "
                f"WHERE {table}.{pk} = v.id",
                [json_rows([[c.pk, *(getattr(c, n) for n in attnames)] for c in clocks])],
            )
        return
    columns = ", ".join(["id", *(f"v{i}" for i in range(len(fields)))])
    for start in range(0, len(clocks), 1000):  # SQLite's 32 766 parameters, with room
        chunk = clocks[start : start + 1000]
        row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        params: list[Any] = []
        for clock in chunk:
            params.append(clock.pk)
            params.extend(f.get_db_prep_save(getattr(clock, f.attname), connection) for f in fields)  # type: ignore[union-attr]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v({columns}) AS (VALUES {', '.join([row] * len(chunk))}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{pk} = v.id",
                params,
            )


def _tickets_of(
    clocks: Sequence[SlaClock | DueClock], *, whole: bool
) -> tuple[dict[tuple[int, int], SlaTicket | None], set[tuple[int, int]]]:
    """The clocks' tickets that still exist, by (content type id, id): one query per
    ticket type. ``whole``: as objects with what their ``sla_watchers`` reads
    (``sla.interface.tickets_for_sla``), for the e-mails; otherwise only their ids (None),
    for the audit rows.

    A ticket type that keeps marks of its clocks (``SLA_KEPT``) has its rows locked,
    skipping those another transaction holds: the sweep writes them after the clocks,
    and a change under way holds its ticket and waits for the clocks (the request path's
    order), so waiting for the ticket here could deadlock. Also returns those skipped
    (``busy``): their clocks are left for the next sweep, untouched."""
    wanted: dict[int, set[int]] = {}
    for clock in clocks:
        wanted.setdefault(clock.content_type_id, set()).add(clock.object_id)
    found: dict[tuple[int, int], SlaTicket | None] = {}
    busy: set[tuple[int, int]] = set()
    for ct_id, pks in wanted.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:  # a ticket type since removed: its clocks have no ticket
            continue
        locking = getattr(model, "SLA_KEPT", None) is not None
        if whole:
            hook = getattr(model, "sla_queryset", None)
            queryset = hook() if hook is not None else model._default_manager.all()
            if locking:
                queryset = queryset.select_for_update(skip_locked=True, of=("self",))
            for ticket in queryset.filter(pk__in=pks):
                found[(ct_id, ticket.pk)] = ticket
        else:
            queryset = model._default_manager.filter(pk__in=pks)
            if locking:
                queryset = queryset.select_for_update(skip_locked=True)
            for pk in queryset.values_list("pk", flat=True):
                found[(ct_id, pk)] = None
        missing = {pk for pk in pks if (ct_id, pk) not in found}
        if locking and missing:  # gone, or locked by another transaction?
            there = model._default_manager.filter(pk__in=missing).values_list("pk", flat=True)
            busy |= {(ct_id, pk) for pk in there}
    return found, busy


def _fire(
    clock: SlaClock | DueClock,
    percent: int,
    elapsed: float,
    specs: PolicySpecs,
    now: datetime,
    local: tzinfo,
) -> _Firing:
    """Mark ``percent`` fired on ``clock``; what it writes, worded for people."""
    clock.fired = percent
    label = _TARGET_LABELS[clock.target]
    policy_id = clock.policy_id
    spent = f"{specs.fmt(policy_id, elapsed)} of {specs.fmt(policy_id, clock.target_seconds)}"
    if percent >= 100:
        clock.breached, clock.breached_at = True, now
        action, kind = "sla_breached", ClockEvent.BREACHED
        text = f"{label} SLA breached ({spent})."
    else:
        action, kind = "sla_warning", ClockEvent.WARNING
        due = clock.due_at.astimezone(local)  # type: ignore[union-attr]
        text = f"{label} SLA at {percent}% ({spent}); due {due:%d %b %H:%M}."
    return _Firing(clock, percent, elapsed, action, kind, text)


def _firings_write(
    firings: list[_Firing], now: datetime, tickets: dict[tuple[int, int], SlaTicket | None]
) -> None:
    """The audit rows, clock events (each linked to its audit row) and, unless notices
    are suppressed, the e-mails of ``firings``: one INSERT each, the rows built as tuples
    (``core.services.audit_rows_insert`` writes what ``audit_record`` writes)."""
    if not firings:
        return
    audit_ids = audit_rows_insert(
        rows=[
            AuditRow(
                content_type_id=f.clock.content_type_id,
                object_id=f.clock.object_id,
                action=f.action,
                changes={"sla": (f.clock.target, f.percent)},
                comment=f.text,
            )
            for f in firings
        ]
    )
    at = db_datetime(now)
    rows_insert(
        SlaClockEvent,
        ["clock_id", "kind", "at", "elapsed_seconds", "percent", "audit_event_id", "note"],
        [
            (f.clock.pk, f.kind, at, f.elapsed, f.percent, audit_id, "")
            for f, audit_id in zip(firings, audit_ids, strict=True)
        ],
    )
    if outbox_is_suppressed():
        return
    emails = []
    for f in firings:
        ticket = tickets[(f.clock.content_type_id, f.clock.object_id)]
        label = _TARGET_LABELS[f.clock.target]
        subject = (
            f"[{ticket.key}] {label} SLA breached"  # type: ignore[union-attr]
            if f.percent >= 100
            else f"[{ticket.key}] {label} SLA at {f.percent}%"  # type: ignore[union-attr]
        )
        emails.append(
            OutboxEmail(
                event=f"sla.{f.action.removeprefix('sla_')}",
                recipients=ticket.sla_watchers(),  # type: ignore[union-attr]
                subject=subject,
                body=f"{f.text}\n\n{getattr(ticket, 'title', '')}",
                target=ticket,  # type: ignore[arg-type]
            )
        )
    outbox_email_many(emails=emails)


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
        clock.breach_handled_at = moment_now()
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
