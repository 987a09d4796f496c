"""SLA clocks following incidents: start, pause, resume, met, reopen, re-target, sweep,
breach and escalation, exactly once."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent, OutboxMessage
from itsm import services
from itsm.models import Incident
from sla.models import SlaClock
from sla.replay import clocks_live, clocks_replay
from sla.services import breaches_pending_ids, clock_breach_dispatch, clocks_sweep
from tests.conftest import drive

LONDON = ZoneInfo("Europe/London")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)


@pytest.fixture
def clock_at():  # type: ignore[no-untyped-def]
    """Move time: ``clock_at(minutes)`` puts 'now' that many minutes after Monday 10:00."""
    traveller = time_machine.travel(MONDAY_10, tick=False)
    frozen = traveller.start()

    def move(minutes: float) -> datetime:
        when = MONDAY_10 + timedelta(minutes=minutes)
        frozen.move_to(when)
        return when

    yield move
    traveller.stop()


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """The sweep with its after-commit work (the breach hand-off) run, as on a worker."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return clocks_sweep()

    return run


def clocks(incident: Incident) -> dict[str, SlaClock]:
    ct = ContentType.objects.get_for_model(Incident)
    return {c.target: c for c in SlaClock.objects.filter(content_type=ct, object_id=incident.pk)}


def actions(incident: Incident) -> list[str]:
    ct = ContentType.objects.get_for_model(Incident)
    return list(
        AuditEvent.objects.filter(content_type=ct, object_id=incident.pk).values_list(
            "action", flat=True
        )
    )


def raise_incident(org, impact: str, urgency: str) -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=org.requester, service=org.service, title="Broken", impact=impact, urgency=urgency
    )


def test_p1_starts_both_clocks_on_24x7(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    c = clocks(inc)
    assert c["response"].state == c["resolution"].state == "running"
    assert c["response"].due_at == MONDAY_10 + timedelta(minutes=30)
    assert c["resolution"].due_at == MONDAY_10 + timedelta(hours=4)
    assert c["response"].next_check_at == MONDAY_10 + timedelta(minutes=15)  # the 50 % warning
    assert c["response"].events.get().kind == "started"


def test_p3_runs_on_business_hours(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    clock_at(6 * 60)  # Monday 16:00
    inc = raise_incident(org, "medium", "medium")
    c = clocks(inc)
    assert c["response"].due_at == datetime(2026, 11, 24, 12, 0, tzinfo=LONDON)  # 1h + 3h
    # 3 business days = 24 h: Mon 1 h, Tue 8, Wed 8, Thu 7 → Thursday 16:00
    assert c["resolution"].due_at == datetime(2026, 11, 26, 16, 0, tzinfo=LONDON)


def test_response_met_by_first_agent_action(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    clock_at(10)
    services.incident_assign(incident=inc, actor=org.agent, assignee=org.agent)
    c = clocks(inc)
    assert c["response"].state == "met" and c["response"].elapsed_seconds == 600
    assert c["response"].next_check_at is None
    assert c["resolution"].state == "running"


def test_first_public_reply_is_the_response(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    clock_at(5)
    services.incident_comment(incident=inc, actor=org.agent, body="On it", public=True)
    assert clocks(inc)["response"].state == "met"


def test_hold_pauses_and_resume_continues_where_it_left_off(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    inc = drive(inc, org, "in_progress")
    clock_at(60)
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_requester")
    res = clocks(inc)["resolution"]
    assert res.state == "paused" and res.due_at is None and res.next_check_at is None
    assert res.elapsed_seconds == 3600
    clock_at(60 + 90)
    assert clocks_sweep() == 0  # a paused clock is never due
    services.incident_resume(incident=inc, actor=org.agent)
    res = clocks(inc)["resolution"]
    assert res.state == "running"
    assert res.elapsed_seconds == 3600 and res.paused_seconds == 90 * 60
    assert res.due_at == MONDAY_10 + timedelta(hours=4, minutes=90)  # shifted by the pause
    assert [e.kind for e in res.events.all()] == ["started", "paused", "resumed"]


def test_resolve_meets_and_reopen_restarts_keeping_time(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = drive(raise_incident(org, "high", "high"), org, "in_progress")
    clock_at(100)
    inc = services.incident_resolve(
        incident=inc, actor=org.agent, resolution_code="fixed", resolution_notes="ok"
    )
    assert clocks(inc)["resolution"].state == "met"
    clock_at(200)
    services.incident_reopen(incident=inc, actor=org.requester, reason="no")
    res = clocks(inc)["resolution"]
    assert res.state == "running" and res.elapsed_seconds == 6000
    assert res.due_at == MONDAY_10 + timedelta(minutes=200 + 140)
    assert res.events.last().kind == "restarted"


def test_cancel_cancels(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    services.incident_cancel(incident=inc, actor=org.requester)
    assert {c.state for c in clocks(inc).values()} == {"cancelled"}


def test_priority_change_retargets_keeping_elapsed_and_paused(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = drive(raise_incident(org, "medium", "medium"), org, "in_progress")  # P3
    clock_at(30)
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_vendor")
    clock_at(50)
    services.incident_resume(incident=inc, actor=org.agent)
    clock_at(60)
    services.incident_update(incident=inc, actor=org.agent, impact="high", urgency="high")  # P1
    res = clocks(inc)["resolution"]
    assert res.policy.name == "Incident P1" and res.target_seconds == 4 * 3600
    assert res.elapsed_seconds == 40 * 60  # 30 before the hold + 10 after
    assert res.paused_seconds == 20 * 60
    assert res.due_at == MONDAY_10 + timedelta(minutes=60) + timedelta(minutes=200)
    assert "sla_retargeted" in actions(inc)
    assert res.events.filter(kind="retargeted").exists()


def test_untouched_p1_warns_breaches_and_escalates_to_tier_3(
    org, clock_at, sweep, settings
) -> None:  # type: ignore[no-untyped-def]
    """The done-when of the SLA issue, on the sweep."""
    org.incident_manager.email = "im@example.test"
    org.incident_manager.save()
    inc = raise_incident(org, "high", "high")
    clock_at(14)
    assert sweep() == 0
    clock_at(15)
    assert sweep() == 1
    assert clocks(inc)["response"].fired == 50
    assert sweep() == 0  # the same warning never twice
    clock_at(22.5)
    sweep()
    assert clocks(inc)["response"].fired == 75
    clock_at(30)
    sweep()
    response = clocks(inc)["response"]
    assert response.breached and response.state == "breached" and response.breach_handled_at
    inc.refresh_from_db()
    assert (inc.tier, inc.team, inc.status) == (3, org.dev, "assigned")
    escalation = AuditEvent.objects.filter(action="escalate", object_id=inc.pk).get()
    assert escalation.actor is None and "SLA breached" in escalation.comment
    assert actions(inc).count("sla_warning") == 2 and actions(inc).count("sla_breached") == 1
    events = set(OutboxMessage.objects.values_list("event", flat=True))
    assert {
        "sla.warning",
        "sla.breached",
        "incident.sla_breached",
        "incident.sla_breached_lead",
        "incident.escalated",
    } <= events
    im = OutboxMessage.objects.get(event="incident.sla_breached")
    assert im.recipients == ["im@example.test"]


def test_p2_breach_escalates_one_tier(org, clock_at, sweep) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "medium")  # P2, business hours, respond in 1h
    clock_at(60)
    sweep()
    inc.refresh_from_db()
    assert (inc.tier, inc.team) == (2, org.support)


def test_p3_breach_only_notifies(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "medium", "medium")
    clock_at(4 * 60)
    clocks_sweep()
    inc.refresh_from_db()
    assert clocks(inc)["response"].breached and inc.tier == 1


def test_on_hold_clock_stands_still_past_its_due_time(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = drive(raise_incident(org, "high", "high"), org, "in_progress")
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_vendor")
    clock_at(10 * 60)
    clocks_sweep()
    assert not clocks(inc)["resolution"].breached
    assert "sla_warning" not in actions(inc)


def test_a_sweep_killed_half_way_fires_exactly_once(org, clock_at, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Killed in its second batch after the audit rows and clock events were written and
    before the clocks were: the first batch stays, the second rolls back whole, and the
    next sweep fires only what the second had."""
    first = raise_incident(org, "high", "high")
    second = raise_incident(org, "high", "high")
    clock_at(16)
    import sla.services as engine_services

    real_update, calls = engine_services._clocks_update, []

    def dying_update(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            assert AuditEvent.objects.filter(action="sla_warning").count() == 2  # written
            raise SystemExit("worker killed")
        return real_update(*args, **kwargs)

    monkeypatch.setattr(engine_services, "_clocks_update", dying_update)
    with pytest.raises(SystemExit):
        clocks_sweep(batch_size=1)
    monkeypatch.setattr(engine_services, "_clocks_update", real_update)
    assert AuditEvent.objects.filter(action="sla_warning").count() == 1  # the second: gone
    assert clocks_sweep() == 1
    assert clocks_sweep() == 0
    for inc in (first, second):
        assert actions(inc).count("sla_warning") == 1
        assert [e.kind for e in clocks(inc)["response"].events.all()] == ["started", "warning"]


def test_lost_breach_handoff_is_redispatched_once(org, clock_at, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inc = raise_incident(org, "high", "high")
    clock_at(31)
    monkeypatch.setattr("sla.services._queue_breach", lambda clock_id: None)  # broker lost it
    clocks_sweep()
    inc.refresh_from_db()
    assert inc.tier == 1
    [pending] = breaches_pending_ids()
    assert clock_breach_dispatch(pending) is True
    assert clock_breach_dispatch(pending) is False
    inc.refresh_from_db()
    assert inc.tier == 3
    assert actions(inc).count("escalate") == 1


def test_breach_noticed_at_resolution_is_recorded_not_escalated(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    inc = drive(raise_incident(org, "high", "high"), org, "in_progress")
    clock_at(5 * 60)  # past the 4 h resolution target, and no sweep ran
    services.incident_resolve(
        incident=inc, actor=org.agent, resolution_code="fixed", resolution_notes="late"
    )
    res = clocks(inc)["resolution"]
    assert res.state == "breached" and res.breach_handled_at is not None
    assert breaches_pending_ids() == []


# --- replay -------------------------------------------------------------------------------
STEPS = [
    "assign",
    "start",
    "hold",
    "resume",
    "escalate",
    "resolve",
    "reopen",
    "close",
    "cancel",
    "reprioritise",
    "reply",
]


def _random_history(inc: Incident, org, rnd: random.Random, clock_at) -> None:  # type: ignore[no-untyped-def]
    minute = 0.0
    for _ in range(rnd.randint(3, 14)):
        minute += rnd.choice([1, 7, 45, 130, 600, 1500])
        clock_at(minute)
        inc.refresh_from_db()
        step = rnd.choice(STEPS)
        try:
            if step == "reprioritise":
                services.incident_update(
                    incident=inc,
                    actor=org.incident_manager,
                    impact=rnd.choice(["high", "medium", "low"]),
                    urgency=rnd.choice(["high", "medium", "low"]),
                )
            elif step == "reply":
                services.incident_comment(incident=inc, actor=org.incident_manager, body="hi")
            else:
                kwargs = {
                    "assign": {"assignee": org.agent},
                    "hold": {"reason": "awaiting_vendor"},
                    "escalate": {"reason": "r"},
                    "reopen": {"reason": "r"},
                    "resolve": {"resolution_code": "fixed", "resolution_notes": "n"},
                }.get(step, {})
                services.TRANSITION_SERVICES[step](
                    incident=inc, actor=org.incident_manager, **kwargs
                )
        except Exception as exc:  # illegal in this state, or not escalatable: skip the step
            assert type(exc).__name__ in {"IllegalTransition", "ValidationFailed"}, exc
        if rnd.random() < 0.5:
            clocks_sweep()


@pytest.mark.parametrize("seed", range(40))
def test_replaying_the_history_gives_the_live_clocks(org, clock_at, seed) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    inc = raise_incident(org, rnd.choice(["high", "medium"]), rnd.choice(["high", "low"]))
    _random_history(inc, org, rnd, clock_at)
    now = clock_at(60 * 24 * 30)
    live = clocks_live(inc, now)
    assert live, "the incident has clocks"
    assert clocks_replay(inc, "incident", now) == live


def test_rebuild_from_history_matches_replay_and_never_notifies(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    from sla.replay import clocks_rebuild

    inc = drive(raise_incident(org, "high", "high"), org, "in_progress")
    clock_at(60)
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_vendor")
    now = clock_at(6 * 60)
    before = OutboxMessage.objects.count()
    rebuilt = {c.target: c for c in clocks_rebuild(inc, "incident", now)}
    assert clocks_live(inc, now) == clocks_replay(inc, "incident", now)
    assert rebuilt["resolution"].state == "paused" and rebuilt["resolution"].fired == 0
    assert rebuilt["response"].state == "met"
    assert [e.kind for e in rebuilt["resolution"].events.all()] == ["started", "paused"]
    assert rebuilt["resolution"].events.last().audit_event.action == "hold"
    assert OutboxMessage.objects.count() == before


def test_catch_up_fires_each_threshold_at_its_moment_through_the_sweeps_code(org, clock_at) -> None:  # type: ignore[no-untyped-def]
    """Backfilled history (the demo, imports): what came due is written as of when it
    came due, the breach escalates, and nobody is e-mailed about the past."""
    from django.db import transaction

    from core.services import outbox_suppressed
    from sla.services import clocks_catch_up

    inc = raise_incident(org, "high", "high")
    now = clock_at(60)
    before = OutboxMessage.objects.count()
    with outbox_suppressed(), transaction.atomic():
        assert clocks_catch_up(ticket=inc, now=now) == 3
    ct = ContentType.objects.get_for_model(Incident)
    fired = AuditEvent.objects.filter(
        content_type=ct, object_id=inc.pk, action__startswith="sla_"
    ).order_by("created_at")
    assert [(a.action, a.created_at, a.changes) for a in fired] == [
        ("sla_warning", MONDAY_10 + timedelta(minutes=15), {"sla": ["response", 50]}),
        ("sla_warning", MONDAY_10 + timedelta(minutes=22.5), {"sla": ["response", 75]}),
        ("sla_breached", MONDAY_10 + timedelta(minutes=30), {"sla": ["response", 100]}),
    ]
    response = clocks(inc)["response"]
    assert [(e.kind, e.at, e.audit_event_id) for e in response.events.all()][1:] == [
        (a.action.removeprefix("sla_"), a.created_at, a.pk) for a in fired
    ]
    assert response.breach_handled_at == MONDAY_10 + timedelta(minutes=30)
    inc.refresh_from_db()
    assert inc.tier == 3 and actions(inc).count("escalate") == 1
    assert OutboxMessage.objects.count() == before
