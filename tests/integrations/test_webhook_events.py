"""Issue 15, outbound webhooks: which audit rows make which event types, and the events that
are not a plain transition (a problem's known error, an internal note to staff, the release
gate's evaluation), plus the per-record order of deliveries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from core.models import OutboxMessage
from core.tasks import outbox_deliver_pending
from integrations.models import WebhookDelivery
from integrations.services import webhooks as hooks
from integrations.webhooks.catalogue import EVENT_TYPES, types_of_audit
from itsm import services
from tests.integrations.receiver import http_receiver


@pytest.mark.parametrize(
    ("record_type", "row", "expected"),
    [
        ("incident", {"action": "created", "to_state": "new"}, ["incident.created"]),
        (
            "incident",
            {
                "action": "assign",
                "from_state": "new",
                "to_state": "assigned",
                "changes": {"assignee": [None, {"id": 1}]},
            },
            ["incident.transitioned", "incident.assigned"],
        ),
        ("incident", {"action": "updated", "changes": {"title": ["a", "b"]}}, []),
        (
            "problem",
            {
                "action": "mark_known_error",
                "from_state": "investigating",
                "to_state": "known_error",
            },
            ["problem.transitioned", "problem.known_error"],
        ),
        ("change", {"action": "cab_approved"}, ["change.approved"]),
        (
            "change",
            {"action": "schedule", "from_state": "awaiting_approval", "to_state": "scheduled"},
            ["change.transitioned", "change.scheduled"],
        ),
        (
            "release",
            {"action": "go_live", "from_state": "awaiting_go_live", "to_state": "live"},
            ["release.transitioned", "release.live"],
        ),
        ("article", {"action": "flagged"}, ["article.needs_review"]),
        ("incident", {"action": "sla_breached"}, ["incident.sla_breached"]),
        ("request", {"action": "sla_warning"}, ["request.sla_warning"]),
        ("release", {"action": "sla_breached"}, []),  # releases have no SLA clocks
    ],
)
def test_audit_rows_map_to_event_types(record_type: str, row: dict[str, Any], expected) -> None:  # type: ignore[no-untyped-def]
    found = types_of_audit(record_type, **row)
    assert found == expected
    assert all(t in EVENT_TYPES for t in found)


def deliver_all() -> None:
    while outbox_deliver_pending():
        pass


def subscribe(org: Any, url: str, types: list[str]) -> str:
    _sub, secret = hooks.subscription_create(
        actor=org.admin,
        data=hooks.SubscriptionInput(
            name="Receiver", url=url, event_types=types, allow_private=True
        ),
    )
    return secret


def test_a_known_error_and_an_internal_note_reach_a_staff_owner(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import problems

    with http_receiver() as receiver:
        subscribe(org, receiver.url, ["problem.known_error", "incident.commented"])
        problem = problems.problem_create(
            actor=org.problem_manager, title="Tax tables", service=org.service
        )
        problem = problems.problem_investigate(problem=problem, actor=org.problem_manager)
        problems.problem_mark_known_error(
            problem=problem, actor=org.problem_manager, root_cause="Old table", workaround="Redo"
        )
        incident = services.incident_create(
            actor=org.requester, service=org.service, title="Tax", impact="low", urgency="low"
        )
        services.incident_comment(
            incident=incident, actor=org.agent, body="Internal: vendor ticket 77.", public=False
        )
        deliver_all()
        bodies = [json.loads(got.body) for got in receiver.received]
    assert [b["type"] for b in bodies] == ["problem.known_error", "incident.commented"]
    assert bodies[0]["data"]["record"]["status"] == "known_error"
    assert bodies[0]["data"]["event"]["to_state"] == "known_error"
    note = bodies[1]["data"]["event"]["comment"]
    assert note["public"] is False and "vendor ticket 77" in note["body"]


def test_the_release_gate_evaluation_is_delivered(org) -> None:  # type: ignore[no-untyped-def]
    from core.roles import Role
    from projects.models import Project
    from projects.services import release_create
    from tests.conftest import api_as
    from tests.factories import UserFactory

    manager = UserFactory(username="rm", roles=[Role.RELEASE_MANAGER])
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    release = release_create(actor=manager, project=project, version="1.0")
    with http_receiver() as receiver:
        subscribe(org, receiver.url, ["release.gate_evaluated"])
        assert api_as(manager).get(f"/api/v1/releases/{release.pk}/gate/").status_code == 200
        deliver_all()
        body = json.loads(receiver.received[0].body)
    assert body["type"] == "release.gate_evaluated"
    event = body["data"]["event"]
    assert event["purpose"] == "query" and event["allowed"] is False and event["checks"]
    assert body["data"]["record"]["version"] == "1.0"


def test_a_retry_holds_back_the_next_delivery_of_the_same_record(org) -> None:  # type: ignore[no-untyped-def]
    """Deliveries for one record go in order: the second waits while the first retries."""
    with http_receiver() as receiver:
        receiver.answer(503)
        subscribe(org, receiver.url, ["incident.created", "incident.transitioned"])
        incident = services.incident_create(
            actor=org.requester, service=org.service, title="Slow", impact="low", urgency="low"
        )
        services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
        deliver_all()
        assert len(receiver.received) == 1  # the first failed; the second has not gone
        second = WebhookDelivery.objects.get(event_type="incident.transitioned").message
        assert second.status == OutboxMessage.Status.PENDING and second.attempts == 0
        with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
            deliver_all()
        types = [json.loads(got.body)["type"] for got in receiver.received]
    assert types == ["incident.created", "incident.created", "incident.transitioned"]
