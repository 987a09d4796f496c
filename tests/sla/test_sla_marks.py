"""What an incident keeps of its SLA clocks for the desk's filters (``Incident.SLA_KEPT``:
sla_due_at, sla_breached, sla_risk_due_at) answers ``?sla=breached`` and ``?sla=at_risk``
exactly as the clocks themselves do (the EXISTS over the clocks the filter used to run),
at every moment of a day of sweeps, pauses, resumes, resolves, escalations; and the queue
filtered by them never reads the clocks (issue 13)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.services import outbox_suppressed
from itsm import services
from itsm.filters import IncidentFilter
from itsm.models import Incident
from itsm.services.counts import incident_sla_marks_rebuild
from sla.models import SlaClock
from sla.services import clock_marks, clocks_sweep
from tests.conftest import drive

LONDON = ZoneInfo("Europe/London")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)


def clocks_say(value: str, now: datetime) -> set[int]:
    """The filter's meaning, read from the clocks (what ``IncidentFilter.filter_sla`` ran
    before issue 13): the reference."""
    ct = ContentType.objects.get_for_model(Incident)
    clocks = SlaClock.objects.filter(content_type=ct, object_id=OuterRef("pk")).exclude(
        state="cancelled"
    )
    ticking = Q(stopped_at__isnull=True, running_since__isnull=False)
    if value == "breached":
        cond = Q(breached=True) | (ticking & Q(due_at__lte=now))
    else:
        cond = ticking & Q(breached=False, fired__gt=0, fired__lt=100, due_at__gt=now)
    return set(Incident.objects.filter(Exists(clocks.filter(cond))).values_list("pk", flat=True))


def filter_says(value: str) -> set[int]:
    qs = IncidentFilter({"sla": value}, queryset=Incident.objects.all()).qs
    return set(qs.values_list("pk", flat=True))


def raise_incident(org, title: str, urgency: str = "high") -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=org.requester, service=org.service, title=title, impact="high", urgency=urgency
    )


def test_the_filters_answer_as_the_clocks_do_through_a_day(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    seen: set[str] = set()
    with time_machine.travel(MONDAY_10, tick=False) as t:
        # P1 (24×7: response 30 min, resolution 4 h; warnings at 50 and 75 %), P2 (business
        # hours: 1 h, 8 h)
        untouched = raise_incident(org, "untouched")  # warned, breached, escalated, twice
        held = raise_incident(org, "held")  # responded; paused and resumed; resolved
        warned = raise_incident(org, "warned")  # resolution warned, then resolved
        late = raise_incident(org, "late")  # response breached, resolution warned
        cancelled = raise_incident(org, "cancelled")
        p2 = raise_incident(org, "p2", urgency="medium")
        kept = {i.pk: i for i in (untouched, held, warned, late, cancelled, p2)}

        def act(minute: float) -> None:  # on the steps of 7.5 minutes below
            nonlocal held, warned, late
            if minute == 7.5:
                held = drive(held, org, "in_progress")
                warned = drive(warned, org, "in_progress")
            elif minute == 15:
                services.incident_cancel(incident=cancelled, actor=org.requester)
            elif minute == 30:  # due now, before the sweep: a late response, breached
                late = drive(late, org, "in_progress")
            elif minute == 60:
                held = services.incident_hold(
                    incident=held, actor=org.agent, reason="awaiting_vendor"
                )
            elif minute == 150:
                held = services.incident_resume(incident=held, actor=org.agent)
            elif minute == 165:
                warned = services.incident_resolve(
                    incident=warned, actor=org.agent, resolution_code="fixed", resolution_notes="-"
                )
            elif minute == 210:
                held = services.incident_resolve(
                    incident=held, actor=org.agent, resolution_code="fixed", resolution_notes="-"
                )

        def compare(minute: float, when: str) -> None:
            now = timezone.now()
            for value in ("breached", "at_risk"):
                expected = clocks_say(value, now)
                assert filter_says(value) == expected, (minute, when, value)
                if expected:
                    seen.add(value)
            rows = {i.pk: i for i in Incident.objects.filter(pk__in=kept)}
            overdue = {pk for pk, i in rows.items() if not i.sla_breached and i.sla_due_at}
            if any(rows[pk].sla_due_at <= now for pk in overdue):
                seen.add("overdue, not swept yet")
            ct = ContentType.objects.get_for_model(Incident)
            for pk, row in rows.items():
                marks = clock_marks(SlaClock.objects.filter(content_type=ct, object_id=pk))
                assert (row.sla_due_at, row.sla_breached, row.sla_risk_due_at) == (
                    marks.due,
                    marks.breached,
                    marks.risk_due,
                ), (minute, when, row.title)
                if marks.breached and marks.risk_due:
                    seen.add("one clock breached, another warned")

        minute = 0.0
        while minute <= 300:
            t.move_to(MONDAY_10 + timedelta(minutes=minute))
            act(minute)
            compare(minute, "before the sweep")
            # a sweep every quarter of an hour only: between two, clocks fall due unswept
            if minute % 15 == 0:
                with django_capture_on_commit_callbacks(execute=True):
                    clocks_sweep()
                compare(minute, "after the sweep")
            minute += 7.5
    assert seen == {
        "breached",
        "at_risk",
        "overdue, not swept yet",
        "one clock breached, another warned",
    }
    untouched.refresh_from_db()
    assert untouched.tier == 3  # the breach escalated it (through the services)
    # what the engine kept is what a rebuild from the clocks (a bulk load's) writes
    assert incident_sla_marks_rebuild() == 0
    before = list(
        Incident.objects.order_by("pk").values_list("sla_due_at", "sla_breached", "sla_risk_due_at")
    )
    Incident.objects.update(sla_due_at=None, sla_breached=False, sla_risk_due_at=MONDAY_10)
    assert incident_sla_marks_rebuild() == len(before)
    after = Incident.objects.order_by("pk").values_list(
        "sla_due_at", "sla_breached", "sla_risk_due_at"
    )
    assert list(after) == before


def test_a_warning_marks_at_risk_and_a_repeated_warning_writes_no_ticket(org) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(MONDAY_10, tick=False) as t:
        inc = raise_incident(org, "one")
        t.move_to(MONDAY_10 + timedelta(minutes=15))
        with outbox_suppressed():
            clocks_sweep()
        inc.refresh_from_db()
        assert inc.sla_risk_due_at == MONDAY_10 + timedelta(minutes=30)
        assert filter_says("at_risk") == {inc.pk}
        from sla.services import tickets_marks_sync

        # the 75 % warning moves nothing the incident keeps: no row written
        assert tickets_marks_sync(Incident, [inc.pk]) == 0
        t.move_to(MONDAY_10 + timedelta(minutes=31))
        assert filter_says("at_risk") == set()
        assert filter_says("breached") == {inc.pk}  # overdue before any sweep saw it


@pytest.mark.postgres
@pytest.mark.parametrize("value", ["breached", "at_risk"])
def test_the_filtered_queue_never_reads_the_clocks(org, value) -> None:  # type: ignore[no-untyped-def]
    raise_incident(org, "one")
    queue = Incident.objects.filter(team=org.desk, status__in=["new", "assigned"])
    qs = IncidentFilter({"sla": value}, queryset=queue).qs[:25]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "sla_slaclock" not in plan, plan
    assert "sla_slaclock" not in str(qs.query)


@pytest.mark.postgres
def test_a_sweep_leaves_a_clock_whose_ticket_a_change_holds(org, transactional_db) -> None:  # type: ignore[no-untyped-def]
    """The request path locks the ticket, then its clocks; the sweep, holding clocks,
    never waits for a ticket (that could deadlock): it leaves that clock due, and fires
    it once the change has committed."""
    with time_machine.travel(MONDAY_10, tick=False):
        held = raise_incident(org, "held")
        free = raise_incident(org, "free")
    locked, release = threading.Event(), threading.Event()

    def change_under_way() -> None:
        try:
            with transaction.atomic():
                Incident.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=change_under_way)
    holder.start()
    try:
        assert locked.wait(30)
        with outbox_suppressed():
            handled = clocks_sweep(now=MONDAY_10 + timedelta(minutes=16))
        assert handled == 1  # free's response clock; held's waits
        assert SlaClock.objects.get(object_id=held.pk, target="response").fired == 0
        assert Incident.objects.get(pk=free.pk).sla_risk_due_at is not None
    finally:
        release.set()
        holder.join(30)
    with outbox_suppressed():
        assert clocks_sweep(now=MONDAY_10 + timedelta(minutes=16)) == 1
    assert SlaClock.objects.get(object_id=held.pk, target="response").fired == 50
    assert Incident.objects.get(pk=held.pk).sla_risk_due_at == MONDAY_10 + timedelta(minutes=30)
