"""Service requests: catalogue answers, approval, fulfilment tasks, API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import OutboxMessage, UserProfile
from core.selectors import history_of
from itsm.models import CatalogField, CatalogItem, CatalogTaskTemplate, FieldType
from itsm.services import approvals
from itsm.services import requests as rs
from tests.conftest import api_as


@pytest.fixture
def laptop(org):  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="New laptop", service=org.service, approval="manager", fulfilment_team=org.support
    )
    for i, (name, kind, required, choices) in enumerate(
        [
            ("model", FieldType.CHOICE, True, 'Standard 14"\nDeveloper 16"'),
            ("needed_by", FieldType.DATE, True, ""),
            ("quantity", FieldType.NUMBER, False, ""),
            ("for_user", FieldType.USER, False, ""),
            ("justification", FieldType.TEXT, True, ""),
        ]
    ):
        CatalogField.objects.create(
            item=item,
            name=name,
            label=name.title(),
            type=kind,
            required=required,
            choices=choices,
            order=i,
        )
    CatalogTaskTemplate.objects.create(item=item, title="Order the laptop", order=1)
    CatalogTaskTemplate.objects.create(item=item, title="Image and hand over", order=2)
    UserProfile.objects.create(user=org.requester, manager=org.change_manager)
    return item


@pytest.fixture
def mouse(org):  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    CatalogTaskTemplate.objects.create(item=item, title="Hand over a mouse")
    return item


GOOD = {"model": 'Developer 16"', "needed_by": "2026-12-01", "justification": "New starter"}


def test_answers_are_validated_naming_each_field(org, laptop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        rs.request_submit(
            actor=org.requester,
            item=laptop,
            answers={
                "model": "Tablet",
                "needed_by": "next week",
                "quantity": "two",
                "for_user": "nobody",
                "colour": "red",
            },
        )
    assert set(err.value.errors) == {
        "model",
        "needed_by",
        "quantity",
        "for_user",
        "justification",
        "colour",
    }


def test_manager_approval_then_tasks_then_fulfilled(org, laptop) -> None:  # type: ignore[no-untyped-def]
    req = rs.request_submit(
        actor=org.requester,
        item=laptop,
        answers={**GOOD, "quantity": "1", "for_user": "requester2"},
    )
    assert req.status == "awaiting_approval"
    assert req.answers["for_user"] == "requester2" and req.answers["quantity"] == "1"
    [approval] = approvals.approvals_of(req)
    assert approval.approver == org.change_manager
    assert OutboxMessage.objects.filter(
        event="approval.requested", recipients=[org.change_manager.email]
    ).exists()
    with pytest.raises(ActionForbidden):
        rs.request_decide(approval=approval, actor=org.agent, decision="approved")
    rs.request_decide(approval=approval, actor=org.change_manager, decision="approved")
    req.refresh_from_db()
    assert req.status == "approved" and req.tasks.count() == 2
    with pytest.raises(IllegalTransition):
        rs.task_transition(task=req.tasks.first(), actor=org.support2, name="complete")
    with pytest.raises(ActionForbidden):
        rs.request_start_fulfilment(request=req, actor=org.agent)
    req = rs.request_start_fulfilment(request=req, actor=org.support2)
    first, second = req.tasks.all()
    rs.task_transition(task=first, actor=org.support2, name="start")
    rs.task_transition(task=first, actor=org.support2, name="complete", notes="Ordered")
    req.refresh_from_db()
    assert req.status == "fulfilling"
    rs.task_transition(task=second, actor=org.support2, name="complete")
    req.refresh_from_db()
    assert req.status == "fulfilled" and req.fulfilled_at
    assert OutboxMessage.objects.filter(event="request.fulfilled").exists()
    req = rs.request_close(request=req, actor=org.requester)
    assert req.status == "closed"
    actions = list(history_of(req).values_list("action", flat=True))
    assert actions[:3] == ["created", "approval_requested", "request_approval"]
    assert "approval_approved" in actions and "fulfil" in actions


def test_rejection_needs_a_reason_and_rejects(org, laptop) -> None:  # type: ignore[no-untyped-def]
    req = rs.request_submit(actor=org.requester, item=laptop, answers=GOOD)
    [approval] = approvals.approvals_of(req)
    with pytest.raises(ValidationFailed):
        rs.request_decide(approval=approval, actor=org.change_manager, decision="rejected")
    rs.request_decide(
        approval=approval,
        actor=org.change_manager,
        decision="rejected",
        comment="Reuse a spare one",
    )
    req.refresh_from_db()
    assert req.status == "rejected" and req.tasks.count() == 0
    with pytest.raises(IllegalTransition):
        rs.request_decide(approval=approval, actor=org.change_manager, decision="approved")


def test_nobody_approves_their_own_request(org, laptop) -> None:  # type: ignore[no-untyped-def]
    group = Group.objects.create(name="Hardware approvers")
    group.user_set.add(org.requester, org.admin)
    laptop.approval, laptop.approval_group = "group", group
    laptop.save()
    req = rs.request_submit(actor=org.requester, item=laptop, answers=GOOD)
    [approval] = approvals.approvals_of(req)
    with pytest.raises(ActionForbidden, match="own request"):
        rs.request_decide(approval=approval, actor=org.requester, decision="approved")
    rs.request_decide(approval=approval, actor=org.admin, decision="approved")
    req.refresh_from_db()
    assert req.status == "approved"


def test_no_approval_item_is_approved_at_once(org, mouse) -> None:  # type: ignore[no-untyped-def]
    req = rs.request_submit(actor=org.requester, item=mouse, answers={})
    assert req.status == "approved" and req.tasks.count() == 1


def test_manager_approval_without_a_manager_is_a_clear_400(org, laptop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="manager"):
        rs.request_submit(actor=org.requester2, item=laptop, answers=GOOD)


def test_request_api_done_when(org, laptop) -> None:  # type: ignore[no-untyped-def]
    requester, manager, support = (
        api_as(org.requester),
        api_as(org.change_manager),
        api_as(org.support2),
    )
    items = requester.get("/api/v1/catalog-items/").json()["results"]
    assert items[0]["fields"][0]["options"] == ['Standard 14"', 'Developer 16"']
    bad = requester.post(
        "/api/v1/requests/", {"item": laptop.pk, "answers": {"model": "x"}}, format="json"
    )
    assert bad.status_code == 400 and {"model", "needed_by"} <= set(bad.json()["fields"])
    res = requester.post("/api/v1/requests/", {"item": laptop.pk, "answers": GOOD}, format="json")
    assert res.status_code == 201, res.content
    req = res.json()
    assert req["key"].startswith("REQ-") and req["status"] == "awaiting_approval"
    pending = manager.get("/api/v1/approvals/").json()["results"]
    assert [p["ticket"]["key"] for p in pending] == [req["key"]]
    assert (
        api_as(org.agent)
        .post(
            f"/api/v1/approvals/{pending[0]['id']}/decide/", {"decision": "approved"}, format="json"
        )
        .status_code
        == 404
    )
    res = manager.post(
        f"/api/v1/approvals/{pending[0]['id']}/decide/", {"decision": "approved"}, format="json"
    )
    assert res.status_code == 200 and res.json()["decision"] == "approved"
    url = f"/api/v1/requests/{req['key']}/"
    assert support.post(url + "transitions/start_fulfilment/", {}, format="json").status_code == 200
    for task in support.get(url).json()["tasks"]:
        res = support.post(url + f"tasks/{task['id']}/transitions/complete/", {}, format="json")
        assert res.status_code == 200
    assert requester.get(url).json()["status"] == "fulfilled"
    assert (
        requester.post(url + "transitions/close/", {}, format="json").json()["status"] == "closed"
    )
    assert api_as(org.requester2).get(url).status_code == 404


def test_request_clocks_pause_while_waiting_for_the_approver(org, laptop) -> None:  # type: ignore[no-untyped-def]
    req = rs.request_submit(actor=org.requester, item=laptop, answers=GOOD)
    clocks = {c.target: c for c in req.sla_clocks.all()}
    assert clocks["resolution"].policy.name == "Service request"
    assert clocks["resolution"].state == "paused"
    [approval] = approvals.approvals_of(req)
    rs.request_decide(approval=approval, actor=org.change_manager, decision="approved")
    req = rs.request_start_fulfilment(request=req, actor=org.support2)
    clocks = {c.target: c for c in req.sla_clocks.all()}
    assert clocks["response"].state == "met" and clocks["resolution"].state == "running"


# --- the state machines, as tables --------------------------------------------------------
REQUEST_GRAPH = {
    "request_approval": {"submitted": "awaiting_approval"},
    "approve": {"submitted": "approved", "awaiting_approval": "approved"},
    "reject": {"awaiting_approval": "rejected"},
    "start_fulfilment": {"approved": "fulfilling"},
    "fulfil": {"fulfilling": "fulfilled"},
    "close": {"fulfilled": "closed", "rejected": "closed"},
    "cancel": {"submitted": "cancelled", "awaiting_approval": "cancelled", "approved": "cancelled"},
}
TASK_GRAPH = {
    "start": {"open": "in_progress"},
    "complete": {"open": "done", "in_progress": "done"},
    "cancel": {"open": "cancelled", "in_progress": "cancelled"},
}


@pytest.mark.parametrize(
    ("model", "graph"), [("ServiceRequest", REQUEST_GRAPH), ("FulfilmentTask", TASK_GRAPH)]
)
def test_every_allowed_and_forbidden_transition(model, graph) -> None:  # type: ignore[no-untyped-def]
    from itsm import models

    cls = getattr(models, model)
    field = cls._meta.get_field("status")
    declared = {t.name for t in field.get_all_transitions(cls)}
    assert declared == set(graph)
    for state in [s for s, _ in field.choices]:
        ticket = cls()
        ticket.__dict__["status"] = state  # the graph only; the field is protected
        available = {t.name: t.target for t in ticket.get_available_status_transitions()}
        expected = {name: targets[state] for name, targets in graph.items() if state in targets}
        assert available == expected, (model, state)
