"""The sweep as set work (issue 13): a batch of due clocks over several tickets, ticket
types and calendars writes exactly the rows the per-clock sweep wrote, and costs a number
of queries that does not grow with the number of clocks."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent, Notification, NotificationPreference, OutboxMessage
from core.services import AuditRow, audit_rows_insert, outbox_suppressed
from itsm import services
from itsm.models import CatalogItem, Incident
from itsm.services import requests as request_services
from sla.models import SlaClock, SlaClockEvent
from sla.services import clocks_sweep

LONDON = ZoneInfo("Europe/London")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)
# Written by the per-clock sweep (before issue 13) from the scenario below:
# TANDEM_WRITE_GOLDEN=1 on that code regenerates it. Never regenerate it from the code
# under test: it is what that code must reproduce.
GOLDEN = Path(__file__).with_name("sweep_golden.json")


def _ref(content_type_id: int | None, object_id: int | None) -> str | None:
    if content_type_id is None:
        return None
    record = ContentType.objects.get_for_id(content_type_id).get_object_for_this_type(pk=object_id)
    return str(getattr(record, "key", record))


def _written() -> dict[str, list[Any]]:
    """Every row the sweeps wrote (the escalations they caused are the incident
    services' rows, tested there), without ids (which depend on the database), sorted,
    each link to another row spelled out as that row's content."""

    def audit(a: AuditEvent | None) -> list[Any] | None:
        if a is None:
            return None
        return [
            _ref(a.content_type_id, a.object_id),
            a.actor.username if a.actor else None,
            a.action,
            a.from_state,
            a.to_state,
            a.changes,
            a.comment,
            a.created_at.isoformat(),
        ]

    audits = [
        audit(a)
        for a in AuditEvent.objects.filter(action__startswith="sla_").select_related("actor")
    ]
    events = [
        [
            _ref(e.clock.content_type_id, e.clock.object_id),
            e.clock.target,
            e.kind,
            e.at.isoformat(),
            e.elapsed_seconds,
            e.percent,
            audit(e.audit_event),
            e.note,
        ]
        for e in SlaClockEvent.objects.filter(
            audit_event__action__startswith="sla_"
        ).select_related("clock", "audit_event__actor")
    ]
    outbox = [
        [
            m.event,
            m.recipients,
            m.subject,
            m.body,
            _ref(m.content_type_id, m.object_id),
            m.available_at.isoformat(),
        ]
        for m in OutboxMessage.objects.filter(event__startswith="sla.")
    ]
    notes = [
        [
            n.user.username,
            n.event,
            n.family,
            n.subject,
            n.body,
            n.url,
            _ref(n.content_type_id, n.object_id),
            n.outbox_message.subject if n.outbox_message else None,
        ]
        for n in Notification.objects.filter(event__startswith="sla.").select_related(
            "user", "outbox_message"
        )
    ]
    clocks = [
        [
            _ref(c.content_type_id, c.object_id),
            c.target,
            c.state,
            c.fired,
            c.breached,
            c.breached_at and c.breached_at.isoformat(),
            c.due_at and c.due_at.isoformat(),
            c.next_check_at and c.next_check_at.isoformat(),
            c.breach_handled_at is not None,
        ]
        for c in SlaClock.objects.all()
    ]
    rows = {"audit": audits, "events": events, "outbox": outbox, "notes": notes, "clocks": clocks}
    return {k: sorted(v, key=lambda r: json.dumps(r, sort_keys=True)) for k, v in rows.items()}


def test_a_batch_over_tickets_types_and_calendars_writes_what_the_per_clock_sweep_wrote(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """P1 (24×7, two thresholds and the breach at once), P2/P3 (business hours) and a
    service request; an assignee, a team's members, a team list, a person who turned SLA
    e-mail off; two sweeps, the breaches' escalations run as on a worker."""
    org.incident_manager.email = "im@example.test"
    org.incident_manager.save()
    org.support.email = "app-support@example.test"
    org.support.save()
    NotificationPreference.objects.create(user=org.developer, family="sla", email=False)
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    with time_machine.travel(MONDAY_10, tick=False) as t:

        def raise_incident(title: str, impact: str, urgency: str) -> Incident:
            return services.incident_create(
                actor=org.requester,
                service=org.service,
                title=title,
                impact=impact,
                urgency=urgency,
            )

        raise_incident("P1 untouched", "high", "high")
        assigned = raise_incident("P1 assigned", "high", "high")
        services.incident_assign(incident=assigned, actor=org.agent, assignee=org.agent)
        raise_incident("P2", "high", "medium")
        raise_incident("P3", "medium", "medium")
        request_services.request_submit(actor=org.requester, item=item, answers={})
        for minutes in (31, 5 * 60, 7 * 60 + 30):
            t.move_to(MONDAY_10 + timedelta(minutes=minutes))
            with django_capture_on_commit_callbacks(execute=True):
                clocks_sweep(batch_size=3)  # several batches, one ticket across two
    written = _written()
    if os.environ.get("TANDEM_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(written, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert {k: len(v) for k, v in written.items()} == {k: len(v) for k, v in expected.items()}
    for kind in expected:
        assert written[kind] == expected[kind], kind
    # the scenario covers what it claims to
    actions = [a[2] for a in written["audit"]]
    assert actions.count("sla_breached") >= 4 and actions.count("sla_warning") >= 6
    assert {"sla.warning", "sla.breached"} <= {m[0] for m in written["outbox"]}


# One batch, whatever its size: the savepoint around it (2); the claim; the policies with
# their calendars' hours and holidays (3); the tickets with their teams and the teams'
# members (3; nobody is assigned); the audit rows; the clock events; whom each of the two
# kinds of e-mail reaches (2 × 2: people, then lists); the outbox rows; the
# notifications; the clocks; what the incidents keep of them (breached, at risk).
SWEEP_QUERIES = 19


@pytest.mark.parametrize("k", [2, 24])
def test_a_sweep_costs_the_same_queries_for_2_or_24_due_clocks(
    org, k, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """Each due P1 fires three thresholds at once (50 %, 75 % and the breach), each P2
    one (50 %), on two calendars; the e-mails go to the desk's list and its members are
    told in the app."""
    org.desk.email = "desk@example.test"
    org.desk.save()
    with time_machine.travel(MONDAY_10, tick=False) as t:
        for i in range(k):
            services.incident_create(
                actor=org.requester,
                service=org.service,
                title=f"n{i}",
                impact="high",
                urgency="high" if i % 2 else "medium",
            )
        t.move_to(MONDAY_10 + timedelta(minutes=31))
        with django_assert_num_queries(SWEEP_QUERIES):
            assert clocks_sweep() == k
    assert AuditEvent.objects.filter(action="sla_warning").count() == k // 2 * 3
    assert AuditEvent.objects.filter(action="sla_breached").count() == k // 2
    assert OutboxMessage.objects.filter(event__startswith="sla.").count() == 2 * k


# With notices off (demo data, imports, the benchmark) a batch loads only its tickets' ids
# (whether they still exist), not their assignees, teams and members for e-mails it will
# not write: the savepoint (2), the claim, the policies (3), the ticket ids, the audit
# rows, the clock events, the clocks, what the incidents keep of them.
SWEEP_QUERIES_QUIET = 11


def test_a_sweep_with_notices_off_loads_no_watchers(org, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    org.desk.email = "desk@example.test"
    org.desk.save()
    with time_machine.travel(MONDAY_10, tick=False) as t:
        for i in range(6):
            services.incident_create(
                actor=org.requester,
                service=org.service,
                title=f"n{i}",
                impact="high",
                urgency="high" if i % 2 else "medium",
            )
        t.move_to(MONDAY_10 + timedelta(minutes=31))
        with outbox_suppressed(), django_assert_num_queries(SWEEP_QUERIES_QUIET):
            assert clocks_sweep() == 6
    assert AuditEvent.objects.filter(action="sla_warning").count() == 3 * 3
    assert (
        SlaClockEvent.objects.filter(kind="breached", audit_event__action="sla_breached").count()
        == 3
    )
    assert not OutboxMessage.objects.filter(event__startswith="sla.").exists()


def test_the_bulk_audit_path_refuses_rows_that_would_have_side_effects(org) -> None:  # type: ignore[no-untyped-def]
    """``audit_rows_insert`` skips ``core.notices.on_audit``: a creation or an
    assignment (which make people watchers) must go through ``audit_record``."""
    ct = ContentType.objects.get_for_model(Incident).pk
    for row in (
        AuditRow(content_type_id=ct, object_id=1, action="created"),
        AuditRow(
            content_type_id=ct, object_id=1, action="updated", changes={"assignee": (None, 1)}
        ),
    ):
        with pytest.raises(ValueError, match="side effects"):
            audit_rows_insert(rows=[row])
    assert not AuditEvent.objects.exists()


def test_the_bulk_audit_path_returns_each_rows_id_in_order(org) -> None:  # type: ignore[no-untyped-def]
    ct = ContentType.objects.get_for_model(Incident).pk
    rows = [
        AuditRow(content_type_id=ct, object_id=n, action="sla_warning", comment=f"row {n}")
        for n in (5, 3, 9, 1)
    ]
    ids = audit_rows_insert(rows=rows)
    assert [AuditEvent.objects.get(pk=pk).comment for pk in ids] == [
        "row 5",
        "row 3",
        "row 9",
        "row 1",
    ]
