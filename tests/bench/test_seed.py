"""bench/seed.py at a tiny scale on the test database: the proportions it promises and the
app's invariants, so pages, APIs and the SLA sweep work on what it loads."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from bench.seed import Timeline, after_load, seed
from core.models import AuditEvent, Comment, Team
from itsm import services
from itsm.models import Incident, Problem, priority_for
from itsm.services.problems import problem_create
from projects.models import Project, WorkItem
from projects.services.work_items import work_item_create
from sla.models import SlaClock
from sla.replay import clocks_live, clocks_replay
from sla.services import SpecCache

User = get_user_model()
N = 300
NOW = datetime(2026, 6, 3, 10, 30, tzinfo=UTC)
OPEN = ("new", "assigned", "in_progress", "on_hold")


def test_seed_at_a_tiny_scale(db) -> None:  # type: ignore[no-untyped-def]
    """One load (a few seconds), every check on it."""
    tables = seed(incidents=N, now=NOW, out=lambda _: None)
    after_load(connection)
    check_proportions(tables)
    check_each_incident_is_consistent_with_its_state()
    check_clocks_are_what_the_sla_engine_would_hold()
    check_values_are_among_each_fields_choices(tables)
    check_the_app_carries_on_after_the_load()


def check_proportions(seeded) -> None:  # type: ignore[no-untyped-def]
    status = Counter(Incident.objects.values_list("status", flat=True))
    assert sum(status.values()) == N
    assert sum(status[s] for s in OPEN) == 0.4 * N
    assert all(status[s] for s in (*OPEN, "closed", "cancelled"))
    desk = Team.objects.get(pk=1)
    assert desk.name == "Service Desk"  # the queue the load runs read: /desk/?queue=team-1
    in_desk = Incident.objects.filter(team=desk, status__in=OPEN).count()
    assert 0.65 < in_desk / (0.4 * N) < 0.85
    assert Team.objects.count() == 30
    assert set(Team.objects.values_list("tier", flat=True)) == {1, 2, 3}
    ct = ContentType.objects.get_for_model(Incident)
    assert 2.5 < Comment.objects.filter(content_type=ct).count() / N < 3.5
    assert Comment.objects.filter(content_type=ct, public=False).exists()
    assert 3.2 < AuditEvent.objects.filter(content_type=ct).count() / N < 4.8
    assert SlaClock.objects.count() == 2 * N
    assert Problem.objects.count() == 3 and WorkItem.objects.count() == 30
    created = Incident.objects.values_list("created_at", flat=True)
    assert max(created) - min(created) > timedelta(days=2 * 365)
    assert seeded["incidents"].count == N


def check_each_incident_is_consistent_with_its_state() -> None:
    members = {t.pk: {u.pk for u in t.members.all()} for t in Team.objects.all()}
    tiers = dict(Team.objects.values_list("pk", "tier"))
    for inc in Incident.objects.all():
        assert inc.priority == priority_for(inc.impact, inc.urgency)
        assert inc.tier == tiers[inc.team_id]
        assert inc.created_at <= inc.updated_at <= NOW
        if inc.assignee_id is not None:
            assert inc.assignee_id in members[inc.team_id]
        if inc.status == "new" or (inc.status == "assigned" and inc.tier > 1):
            assert inc.assignee_id is None  # an escalation lands in the queue, nobody holds it
        elif inc.status != "cancelled":
            assert inc.assignee_id is not None
        assert (inc.resolved_at is not None) == (inc.status in ("resolved", "closed"))
        assert (inc.closed_at is not None) == (inc.status in ("closed", "cancelled"))
        assert bool(inc.hold_reason) == (inc.status == "on_hold")
        assert bool(inc.resolution_code) == (inc.status in ("resolved", "closed"))
        if inc.status == "resolved":  # younger than the auto-close grace period
            assert NOW - inc.resolved_at < timedelta(days=3)
        if inc.status not in ("new", "cancelled"):
            assert inc.responded_at is not None


def check_clocks_are_what_the_sla_engine_would_hold() -> None:
    ct = ContentType.objects.get_for_model(Incident)
    clocks = {(c.object_id, c.target): c for c in SlaClock.objects.filter(content_type=ct)}
    for inc in Incident.objects.all():
        resolution = clocks[inc.pk, "resolution"]
        if inc.status == "on_hold":
            assert resolution.state == "paused" and resolution.next_check_at is None
        elif inc.status in OPEN:
            assert resolution.state in ("running", "breached") and resolution.stopped_at is None
            # the sweep kept up: the next threshold is ahead, or the breach was handled
            assert resolution.next_check_at is None or resolution.next_check_at > NOW
            assert resolution.breached == (resolution.next_check_at is None)
            assert not resolution.breached or resolution.breach_handled_at is not None
        elif inc.status == "cancelled":
            assert resolution.state == "cancelled" and resolution.stopped_at == inc.closed_at
        else:
            assert resolution.state in ("met", "breached")
            assert resolution.stopped_at == inc.resolved_at
        assert (clocks[inc.pk, "response"].state == "running") == (
            inc.status == "new" and not clocks[inc.pk, "response"].breached
        )
        assert resolution.team_id == inc.team_id and resolution.priority == inc.priority
    # and the engine's replay of each audit trail gives the same clocks
    specs = SpecCache()
    for inc in Incident.objects.filter(pk__in=range(1, N + 1, 4)):  # every state is among them
        live, replay = clocks_live(inc, NOW), clocks_replay(inc, "incident", NOW)
        assert live.keys() == replay.keys()
        for target, facts in live.items():
            again = replay[target]
            assert replace(facts, due_at=None) == replace(again, due_at=None), inc.key
            if facts.due_at != again.due_at:
                # a clock due exactly at a working day's end: the engine, summing business
                # time in steps, may say the next day's start, the same business moment
                spec = specs.get_spec(clocks[inc.pk, target].policy.calendar)
                first, second = sorted((facts.due_at, again.due_at))
                assert spec.business_seconds(first, second) < 0.01, inc.key


def test_timeline_agrees_with_the_calendar() -> None:
    """The seed's prefix-sum business time against sla.calendar, on the default business
    hours (Mon–Fri 09:00–17:00 Europe/London, across daylight-saving changes)."""
    from datetime import time

    from sla.calendar import CalendarSpec

    spec = CalendarSpec(
        tz=__import__("zoneinfo").ZoneInfo("Europe/London"),
        hours={d: ((time(9), time(17)),) for d in range(5)},
    )
    start = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    line = Timeline(spec, start, start + 4 * 365 * 86_400.0)
    rnd = random.Random(1)
    for _ in range(300):
        a = start + rnd.random() * 3.5 * 365 * 86_400
        b = a + rnd.random() * 20 * 86_400
        seconds = rnd.choice([1800.0, 4 * 3600.0, 3 * 8 * 3600.0, rnd.random() * 50 * 3600])
        moment = datetime.fromtimestamp(a, UTC)
        assert line.seconds(a, b) == pytest.approx(
            spec.business_seconds(moment, datetime.fromtimestamp(b, UTC)), abs=0.01
        )
        assert line.add(a, seconds) == pytest.approx(
            spec.add(moment, seconds).timestamp(), abs=0.01
        )


def check_values_are_among_each_fields_choices(seeded) -> None:  # type: ignore[no-untyped-def]
    """SQLite stores any text: a value outside a field's choices would pass there and break
    a page (or PostgreSQL's length) later."""
    for name, table in seeded.items():
        for f in table.model._meta.concrete_fields:
            if not f.choices or f.name not in table.names:
                continue
            allowed = {value for value, _ in f.flatchoices} | ({""} if f.blank else set())
            found = set(table.model.objects.values_list(f.name, flat=True).distinct())
            assert found <= allowed, (name, f.name, found - allowed)


def check_the_app_carries_on_after_the_load() -> None:
    connection.check_constraints()  # every foreign key the load wrote points at a row
    assert Incident.objects.order_by("number").last().number == 1000 + N
    agent = Team.objects.get(pk=1).members.order_by("pk").first()
    inc = services.incident_create(
        actor=agent,
        requester=Incident.objects.first().requester,
        service=Incident.objects.first().service,
        title="After the load",
    )
    assert inc.number == 1001 + N
    assert inc.pk == N + 1  # the id sequence moved past the loaded ids
    assert inc.team_id == 1 and SlaClock.objects.filter(object_id=inc.pk).count() == 2
    manager = User.objects.get(username="problem_manager")
    problem = problem_create(actor=manager, title="After the load", service=inc.service)
    assert problem.number == 1004  # three problems at this scale
    item = work_item_create(
        actor=User.objects.get(username="dev001"),
        project=Project.objects.get(pk=1),
        kind="defect",
        title="After the load",
    )
    assert item.number == 1000 + WorkItem.objects.filter(kind="defect").count()


@pytest.mark.postgres
def test_bulk_load_builds_the_same_indexes(db) -> None:  # type: ignore[no-untyped-def]
    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}

    before = indexes()
    seed(incidents=100, now=NOW, out=lambda _: None, bulk=True)
    assert indexes() == before
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"  # foreign-key triggers are back on
    connection.check_constraints()
    assert Incident.objects.filter(status__in=OPEN).count() == 40
