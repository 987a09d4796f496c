"""Issue 16: the dashboards' daily roll-ups (``dashboards.services.facts_collect``). The
figures summed from them agree with the incident table; a regular run recomputes the days
whose incidents changed and leaves the others; a past day's backlog keeps what was open
then; two runs never collect at once."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Avg, Q, Sum
from django.utils import timezone

from core.dashboards import Filters, Seconds, percent, period_buckets
from dashboards.figures import FIGURES
from dashboards.models import FactsRun
from dashboards.services import facts_collect
from itsm import services
from itsm.models import Incident, IncidentBacklogDay, IncidentDay
from sla.models import SlaClock
from tests.factories import ServiceFactory

TODAY = date(2026, 3, 18)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def filters(days: int = 30, service_id: int | None = None, team_id: int | None = None) -> Filters:
    start, end, buckets = period_buckets(days, TODAY)
    return Filters(days, start, end, buckets, service_id, team_id)


def series(figure):  # type: ignore[no-untyped-def]
    return {s.label: s.values for s in figure.series}


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):  # type: ignore[no-untyped-def]
    from core import dashboards

    monkeypatch.setattr(dashboards, "CACHE_PREFIX", f"dash-{uuid.uuid4().hex}")


@pytest.fixture
def history(org):  # type: ignore[no-untyped-def]
    """Forty incidents over the last 40 days on two services and three teams, with random
    response and resolution times, reopens and cancellations, and SLA clocks met, breached
    or running (a fixed seed)."""
    rnd = random.Random(16)
    other = ServiceFactory(name="Intranet", support_team=org.support)
    teams = [org.desk, org.support, org.dev]
    with time_machine.travel(at(TODAY - timedelta(days=41)), tick=False):
        made = [
            services.incident_create(
                actor=org.requester,
                service=rnd.choice([org.service, other]),
                title=f"Broken {i}",
                impact=rnd.choice(["high", "medium", "low"]),
                urgency=rnd.choice(["high", "medium", "low"]),
            )
            for i in range(40)
        ]
    for inc in made:
        created = at(TODAY - timedelta(days=rnd.randint(0, 40)), rnd.randint(0, 23))
        responded = created + timedelta(minutes=rnd.randint(1, 3000))
        resolved = responded + timedelta(hours=rnd.randint(1, 400)) if rnd.random() < 0.7 else None
        Incident.objects.filter(pk=inc.pk).update(
            created_at=created,
            responded_at=responded if rnd.random() < 0.9 else None,
            resolved_at=resolved if resolved and resolved < at(TODAY, 12) else None,
            reopen_count=1 if rnd.random() < 0.2 else 0,
            team=rnd.choice(teams),
            tier=rnd.choice([1, 2, 3]),
            status="cancelled" if rnd.random() < 0.1 else "in_progress",
        )
        inc.refresh_from_db()
        for clock in SlaClock.objects.filter(object_id=inc.pk, state="running"):
            outcome = rnd.choice(["met", "breached", "running"])
            SlaClock.objects.filter(pk=clock.pk).update(
                started_at=inc.created_at,
                team_id=inc.team_id,
                service_id=inc.service_id,
                breached=outcome == "breached",
                stopped_at=inc.created_at + timedelta(hours=1) if outcome == "met" else None,
                state=outcome,
            )
    return {"other": other, "teams": teams}


def _open_at(qs, moment):  # type: ignore[no-untyped-def]
    return (
        qs.exclude(status="cancelled")
        .filter(created_at__lt=moment)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=moment))
    )


@pytest.fixture
def noon():  # type: ignore[no-untyped-def]
    with time_machine.travel(at(TODAY, 12), tick=False):
        yield


@pytest.mark.parametrize("scope", ["all", "service", "team", "service+team"])
def test_the_figures_agree_with_the_incident_table(history, org, scope, noon) -> None:  # type: ignore[no-untyped-def]
    facts_collect(full=True, now=at(TODAY, 12))
    f = filters(
        service_id=org.service.pk if "service" in scope else None,
        team_id=org.support.pk if "team" in scope else None,
    )
    qs = Incident.objects.all()
    if f.service_id:
        qs = qs.filter(service_id=f.service_id)
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    raised = qs.filter(created_at__gte=f.start, created_at__lt=f.end)

    backlog = series(FIGURES["backlog_priority"](f))
    for i, bucket in enumerate(f.buckets):
        moment = min(bucket.end, at(TODAY + timedelta(days=1), 0))
        for p in range(1, 6):
            assert backlog[f"P{p}"][i] == _open_at(qs.filter(priority=p), moment).count()

    top = FIGURES["top_services"](f)
    expected = {s.name: raised.filter(service=s).count() for s in (org.service, history["other"])}
    assert dict(zip(top.labels, top.series[0].values, strict=True)) == {
        k: v for k, v in expected.items() if v
    }

    times = FIGURES["times"](f)
    rows = dict(zip(times.labels, [v for _, _, v in times.rows], strict=True))
    for p in range(1, 6):
        mine = raised.filter(priority=p)
        respond = mine.filter(responded_at__isnull=False).aggregate(
            s=Avg(Seconds("responded_at", "created_at"))
        )["s"]
        resolve = mine.filter(resolved_at__isnull=False).aggregate(
            s=Avg(Seconds("resolved_at", "created_at"))
        )["s"]
        mean_respond, p90_respond, mean_resolve, p90_resolve = rows[f"P{p}"]
        assert mean_respond == (None if respond is None else round(respond / 3600, 1))
        assert mean_resolve == (None if resolve is None else round(resolve / 3600, 1))
        if respond is not None:  # never above the longest
            longest = max(
                (r - c).total_seconds()
                for c, r in mine.exclude(responded_at=None).values_list(
                    "created_at", "responded_at"
                )
            )
            assert p90_respond <= round(longest / 3600 + 0.05, 1)  # (shown to a tenth)

    reopen = series(FIGURES["reopen_rate"](f))["Reopened"]
    for i, b in enumerate(f.buckets):
        cohort = raised.filter(created_at__gte=b.start, created_at__lt=b.end)
        once = cohort.filter(Q(resolved_at__isnull=False) | Q(reopen_count__gt=0)).count()
        again = cohort.filter(reopen_count__gt=0).count()
        assert reopen[i] == (round(100 * again / once, 1) if once else None)

    clocks = SlaClock.objects.exclude(state="cancelled")
    if f.service_id:
        clocks = clocks.filter(service_id=f.service_id)
    if f.team_id:
        clocks = clocks.filter(team_id=f.team_id)
    trend = series(FIGURES["sla_trend"](f))
    for target, label in (("response", "Response met"), ("resolution", "Resolution met")):
        for i, b in enumerate(f.buckets):
            mine = clocks.filter(target=target, started_at__gte=b.start, started_at__lt=b.end)
            met = mine.filter(breached=False, stopped_at__isnull=False).count()
            breached = mine.filter(breached=True).count()
            assert trend[label][i] == percent(met, met + breached), (target, i)


def test_each_team_has_total_rows_that_sum_its_detail_rows(history, org, noon) -> None:  # type: ignore[no-untyped-def]
    """A dashboard filtered by team sums the team's total rows (a day's per priority, over
    every service), not its detail rows: at a million incidents the service desk's detail
    rows were half of all of them. Written by every collection, kept equal to the detail."""
    from sla.models import SlaClockDay

    facts_collect(full=True, now=at(TODAY, 12))
    for model, key, measure in (
        (IncidentDay, "priority", "raised"),
        (IncidentDay, "priority", "resolve_7"),
        (SlaClockDay, "target", "breached"),
    ):
        detail = {
            (d, t, k): n
            for d, t, k, n in model.objects.filter(total=False, team_id__isnull=False)
            .order_by()
            .values_list("day", "team_id", key)
            .annotate(n=Sum(measure))
        }
        totals = {
            (d, t, k): n
            for d, t, k, n in model.objects.filter(total=True, team_id__isnull=False).values_list(
                "day", "team_id", key, measure
            )
        }
        assert detail and totals == detail, (model, measure)


def test_a_regular_run_recomputes_the_days_whose_incidents_changed(history, org) -> None:  # type: ignore[no-untyped-def]
    facts_collect(full=True, now=at(TODAY, 12))
    old = Incident.objects.filter(created_at__lt=at(TODAY - timedelta(days=20))).exclude(
        status="cancelled"
    )
    inc = old.filter(resolved_at__isnull=True).order_by("pk").first()
    day = timezone.localtime(inc.created_at).date()

    def untouched() -> set[int]:
        return set(
            IncidentDay.objects.exclude(day=day)
            .filter(day__lt=TODAY - timedelta(days=1))
            .values_list("pk", flat=True)
        )

    kept = untouched()
    assert kept
    before = IncidentDay.objects.get(day=day, total=True, team_id=None, priority=inc.priority)
    before = before.resolve_n
    with time_machine.travel(at(TODAY, 12, 30), tick=False):
        services.incident_resolve(
            incident=inc, actor=org.admin, resolution_code="fixed", resolution_notes="Done."
        )
    done = facts_collect(now=at(TODAY, 12, 31))
    assert not done.skipped
    after = IncidentDay.objects.get(day=day, total=True, team_id=None, priority=inc.priority)
    assert after.resolve_n == before + 1  # the day it was raised on, recomputed
    assert untouched() == kept  # the days nothing changed on were not rewritten
    assert FactsRun.objects.get().started_at == at(TODAY, 12, 31)


def test_a_past_days_backlog_keeps_what_was_open_then(org) -> None:  # type: ignore[no-untyped-def]
    day = TODAY - timedelta(days=1)
    with time_machine.travel(at(day, 10), tick=False):
        inc = services.incident_create(
            actor=org.requester, service=org.service, title="Slow", impact="low", urgency="low"
        )
        facts_collect(now=at(day, 10, 1))
    low = inc.priority
    facts_collect(now=at(TODAY, 0, 1))  # the first run after midnight closes yesterday
    with time_machine.travel(at(TODAY, 9), tick=False):
        inc = services.incident_update(incident=inc, actor=org.admin, impact="high", urgency="high")
    facts_collect(now=at(TODAY, 9, 1))
    assert inc.priority != low
    rows = IncidentBacklogDay.objects.values_list("day", "priority", "open")
    assert set(rows) == {(day, low, 1), (TODAY, inc.priority, 1)}


@pytest.mark.postgres
def test_a_run_while_another_holds_the_lock_does_nothing(transactional_db, org) -> None:  # type: ignore[no-untyped-def]
    facts_collect(full=True)
    held, release = threading.Event(), threading.Event()

    def other_run() -> None:
        try:
            with transaction.atomic():
                FactsRun.objects.select_for_update().get(key="facts")
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert held.wait(10)
        assert facts_collect().skipped
    finally:
        release.set()
        thread.join()
    assert not facts_collect().skipped


def test_an_old_clock_that_changed_alone_is_caught_by_the_first_run_of_a_day(org) -> None:  # type: ignore[no-untyped-def]
    from sla.models import SlaClock, SlaClockDay

    long_ago = TODAY - timedelta(days=50)
    with time_machine.travel(at(long_ago), tick=False):
        inc = services.incident_create(actor=org.requester, service=org.service, title="Old")
    clock = SlaClock.objects.get(object_id=inc.pk, target="resolution")
    facts_collect(full=True, now=at(TODAY, 10))

    def breached() -> int:
        rows = SlaClockDay.objects.filter(
            day=long_ago, total=True, team_id=None, target="resolution"
        )
        return sum(r.breached for r in rows)

    assert breached() == 0
    SlaClock.objects.filter(pk=clock.pk).update(breached=True)  # the sweep, say: no incident write
    facts_collect(now=at(TODAY, 11))
    assert breached() == 0  # beyond the recent days, and its incident did not change
    facts_collect(now=at(TODAY + timedelta(days=1), 0, 1))
    assert breached() == 1


@pytest.mark.postgres
def test_a_full_collection_from_the_command_vacuums_the_rollups(transactional_db, org) -> None:  # type: ignore[no-untyped-def]
    """A full run rewrites every roll-up row, which clears the visibility map that the top
    services' index-only scan reads: at a million incidents the 365-day Incidents dashboard
    took 240 ms after it, 148 ms once vacuumed. The command vacuums them at once."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("dashboards_collect", "--full", stdout=out)
    assert "Roll-up tables vacuumed" in out.getvalue()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND relname "
            "IN ('itsm_incidentday', 'itsm_incidentbacklogday', 'sla_slaclockday')"
        )
        assert {r[0] for r in cur.fetchall()} == {
            "itsm_incidentday",
            "itsm_incidentbacklogday",
            "sla_slaclockday",
        }
