"""Issue 16: the demo tells a story over time, so the dashboards show real figures.

Each demo incident is replayed step by step at its own moment (``core.services.history_at``),
and the services stamp their record times with ``moment_now()``: a replayed incident is
raised, answered and resolved at different moments; outside a replay nothing changes."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from core.models import AuditEvent, Comment
from core.selectors import history_of
from core.services import history_at, moment_now
from itsm import services
from itsm.models import Change, Incident
from tests.factories import incident


def test_replayed_services_stamp_the_replayed_moment(org) -> None:  # type: ignore[no-untyped-def]
    """A replayed incident keeps the moments of its steps; a live one the wall clock."""
    raised = timezone.now() - timedelta(days=10)
    with history_at(raised):
        inc = incident(actor=org.requester, service=org.service)
    with history_at(raised + timedelta(minutes=20)):
        inc = services.incident_assign(incident=inc, actor=org.agent, assignee=org.agent)
    with history_at(raised + timedelta(minutes=25)):
        services.incident_comment(incident=inc, actor=org.agent, body="On it.", public=True)
    with history_at(raised + timedelta(hours=5)):
        inc = services.incident_resolve(
            incident=inc, actor=org.agent, resolution_code="fixed", resolution_notes="Done."
        )
    inc.refresh_from_db()
    assert inc.created_at == raised
    assert inc.responded_at == raised + timedelta(minutes=20)
    assert inc.resolved_at == raised + timedelta(hours=5)
    assert inc.updated_at == raised + timedelta(hours=5)
    (comment,) = history_of_comments(inc)
    assert comment.created_at == raised + timedelta(minutes=25)
    assert [a.created_at for a in history_of(inc)] == sorted(a.created_at for a in history_of(inc))

    before = timezone.now()
    assert moment_now() >= before  # outside a replay: now
    live = incident(actor=org.requester, service=org.service)
    live = services.incident_assign(incident=live, actor=org.agent, assignee=org.agent)
    live.refresh_from_db()
    assert live.created_at >= before and live.responded_at >= live.created_at


def history_of_comments(record):  # type: ignore[no-untyped-def]
    ct = ContentType.objects.get_for_model(record)
    return list(Comment.objects.filter(content_type=ct, object_id=record.pk))


def _hours(qs, end: str) -> list[float]:  # type: ignore[no-untyped-def]
    return [(getattr(i, end) - i.created_at).total_seconds() / 3600 for i in qs.order_by("pk")]


@pytest.mark.django_db
def test_seeded_demo_has_figures_over_the_period() -> None:
    """Seeded once (about 30 s): every dashboard figure has data over the default 90 days."""
    from core.dashboards import parse_filters
    from dashboards.figures import FIGURES
    from projects.models import Release

    call_command("seed_demo", stdout=io.StringIO())
    _, filters = parse_filters({})
    now = timezone.now()

    # time to respond and resolve: not zero, and longer for lower priorities
    resolved = Incident.objects.filter(resolved_at__isnull=False)
    assert resolved.count() > 100
    assert all(h > 0 for h in _hours(resolved, "responded_at"))
    assert all(h > 0 for h in _hours(resolved, "resolved_at"))
    assert not Incident.objects.filter(responded_at__lt=F("created_at")).exists()
    assert not Incident.objects.filter(resolved_at__lt=F("responded_at")).exists()
    assert not Incident.objects.filter(created_at__gt=now).exists()
    times = FIGURES["times"](filters)
    resolve_mean = times.series[2].values
    assert resolve_mean[0] is not None and resolve_mean[3] is not None
    assert 0 < resolve_mean[0] < resolve_mean[3]  # a P1 is resolved faster than a P4
    # incidents raised over the whole period, not all at once
    raised = Incident.objects.values_list("created_at", flat=True)
    raised_weeks = {timezone.localtime(c).isocalendar()[:2] for c in raised}
    assert len(raised_weeks) >= 12

    # SLA compliance neither 0 % nor 100 % everywhere
    sla = [v for s in FIGURES["sla_trend"](filters).series for v in s.values if v is not None]
    assert len(sla) >= 20 and any(0 < v < 100 for v in sla)

    # some incidents reopened
    reopen = [v for v in FIGURES["reopen_rate"](filters).series[0].values if v]
    assert len(reopen) >= 3

    # changes implemented in past weeks with outcomes, some not successful, some emergencies
    done = Change.objects.filter(actual_end__gte=filters.start, actual_end__lt=now).exclude(
        outcome=""
    )
    assert done.count() >= 15
    assert {"successful", "partial", "failed"} <= set(done.values_list("outcome", flat=True))
    assert done.filter(type="emergency").count() >= 2
    success = [v for v in FIGURES["change_outcomes"](filters).series[0].values if v is not None]
    assert len(success) >= 8 and any(v < 100 for v in success)

    # releases live at different past dates, with incidents on both sides of the go-live
    live = Release.objects.filter(went_live_at__gte=filters.start, went_live_at__lt=now)
    assert len({r.went_live_at.date() for r in live}) >= 3
    figure = FIGURES["release_incidents"](filters)
    before, after = figure.series
    assert any(b > 0 and a > 0 for b, a in zip(before.values, after.values, strict=True))

    # knowledge deflections over past weeks
    deflected = FIGURES["deflections"](filters).series[0].values
    assert sum(deflected) > 0 and sum(1 for v in deflected if v) >= 8

    # 3rd-line time on each development team over past weeks
    load = FIGURES["third_line_load"](filters).series[0].values
    assert load and all(h > 10 for h in load)

    # the backlog moves over the period (not flat)
    backlog = FIGURES["backlog_priority"](filters)
    totals = [sum(s.values[i] for s in backlog.series) for i in range(len(filters.buckets))]
    assert len(set(totals)) >= 4

    # each step at its own moment: none before the incident was raised, none after now
    ct = ContentType.objects.get_for_model(Incident)
    raised_at = dict(Incident.objects.values_list("pk", "created_at"))
    for object_id, at in AuditEvent.objects.filter(content_type=ct).values_list(
        "object_id", "created_at"
    ):
        assert raised_at[object_id] <= at <= now

    # idempotent: seeding again adds nothing
    counts = (Incident.objects.count(), Change.objects.count(), Release.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Incident.objects.count(), Change.objects.count(), Release.objects.count()) == counts
