"""Change management: the three paths, CAB approval with separation of duties, freeze
windows with the emergency override, conflicts, review; and the API contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.roles import Role
from core.selectors import history_of
from itsm.models import Change, ChangeStatus, FreezeWindow, StandardChangeTemplate
from itsm.services import approvals
from itsm.services import changes as cs
from tests.conftest import api_as
from tests.factories import UserFactory

PLANS = {
    "implementation_plan": "Deploy 2.3",
    "backout_plan": "Redeploy 2.2",
    "test_plan": "Smoke tests",
}


@pytest.fixture
def cab(org):  # type: ignore[no-untyped-def]
    """Two CAB members besides the Change Manager."""
    return [
        UserFactory(username="cab1", roles=[Role.CHANGE_MANAGER]),
        UserFactory(username="cab2", roles=[Role.PROJECT_MANAGER]),
    ]


def window(days: int = 10, hours: int = 2):  # type: ignore[no-untyped-def]
    start = timezone.now().replace(microsecond=0) + timedelta(days=days)
    return start, start + timedelta(hours=hours)


def normal(org, **kw) -> Change:  # type: ignore[no-untyped-def]
    return cs.change_create(
        actor=org.developer,
        title="Upgrade payroll to 2.3",
        services=[org.service],
        implementer=org.developer,
        **{**PLANS, **kw},
    )


def approved_normal(org, cab) -> Change:  # type: ignore[no-untyped-def]
    ch = cs.change_submit(change=normal(org), actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={"many_users": True})
    ch = cs.change_request_approval(change=ch, actor=org.change_manager, approvers=cab)
    for a in approvals.approvals_of(ch):
        cs.change_decide(approval=a, actor=a.approver, decision="approved")
    ch.refresh_from_db()
    return ch


def test_normal_change_done_when(org, cab) -> None:  # type: ignore[no-untyped-def]
    """Assessed, approved by two CAB members (the requester's own approval refused),
    blocked from a freeze window, scheduled outside it, implemented and reviewed."""
    ch = cs.change_submit(change=normal(org), actor=org.developer)
    ch = cs.change_assess(
        change=ch,
        actor=org.change_manager,
        risk_answers={"many_users": True, "business_hours": True, "first_time": True},
    )
    assert ch.risk == "high"
    group = Group.objects.create(name="Payroll CAB")
    group.user_set.add(org.developer, cab[1])
    ch = cs.change_request_approval(
        change=ch, actor=org.change_manager, approvers=[cab[0]], groups=[group]
    )
    assert ch.status == "awaiting_approval"
    person, group_row = approvals.approvals_of(ch)
    with pytest.raises(ActionForbidden, match="requested"):
        cs.change_decide(approval=group_row, actor=org.developer, decision="approved")
    cs.change_decide(approval=person, actor=cab[0], decision="approved")
    with pytest.raises(IllegalTransition, match="not approved"):
        cs.change_schedule(
            change=ch, actor=org.change_manager, planned_start=window()[0], planned_end=window()[1]
        )
    cs.change_decide(approval=group_row, actor=cab[1], decision="approved")
    start, end = window()
    FreezeWindow.objects.create(
        name="Year-end freeze", start=start - timedelta(days=1), end=end + timedelta(days=1)
    )
    with pytest.raises(IllegalTransition, match="freeze"):
        cs.change_schedule(
            change=ch, actor=org.change_manager, planned_start=start, planned_end=end
        )
    ch.refresh_from_db()
    assert ch.status == "awaiting_approval"
    later, later_end = window(days=20)
    ch = cs.change_schedule(
        change=ch, actor=org.change_manager, planned_start=later, planned_end=later_end
    )
    assert ch.status == "scheduled" and ch.planned_start == later
    ch = cs.change_implement(change=ch, actor=org.developer)
    ch = cs.change_complete(change=ch, actor=org.developer)
    with pytest.raises(ValidationFailed):
        cs.change_close(change=ch, actor=org.change_manager, review_notes="")
    ch = cs.change_close(change=ch, actor=org.change_manager, review_notes="Went fine.")
    assert (ch.status, ch.outcome) == ("closed", "successful")
    actions = list(history_of(ch).values_list("action", flat=True))
    assert actions.count("approval_approved") == 2 and "cab_approved" in actions


def test_requester_or_implementer_cannot_be_named_approver(org) -> None:  # type: ignore[no-untyped-def]
    ch = cs.change_submit(change=normal(org), actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    with pytest.raises(ValidationFailed, match="requested"):
        cs.change_request_approval(change=ch, actor=org.change_manager, approvers=[org.developer])


def test_any_rejection_rejects(org, cab) -> None:  # type: ignore[no-untyped-def]
    ch = cs.change_submit(change=normal(org), actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    ch = cs.change_request_approval(change=ch, actor=org.change_manager, approvers=cab)
    first, second = approvals.approvals_of(ch)
    cs.change_decide(approval=first, actor=cab[0], decision="rejected", comment="No back-out test")
    ch.refresh_from_db()
    assert ch.status == "rejected"
    second.refresh_from_db()
    assert second.decision == "cancelled"


def test_emergency_path_with_recorded_freeze_override(org) -> None:  # type: ignore[no-untyped-def]
    ch = cs.change_create(
        actor=org.developer,
        type="emergency",
        title="Hotfix tax table",
        services=[org.service],
        implementer=org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.developer)
    assert [
        t.name
        for t in ch.get_available_status_transitions()
        if t.name in ("assess", "request_approval")
    ] == ["request_approval"]
    ch = cs.change_request_approval(change=ch, actor=org.change_manager)
    [ecab] = approvals.approvals_of(ch)
    assert ecab.group.name == "Change Manager" and ecab.reason == "Emergency CAB"
    cs.change_decide(approval=ecab, actor=org.change_manager, decision="approved")
    start, end = window(days=1)
    FreezeWindow.objects.create(
        name="Payroll run", start=start - timedelta(hours=1), end=end + timedelta(hours=1)
    )
    with pytest.raises(ValidationFailed) as err:
        cs.change_schedule(
            change=ch, actor=org.change_manager, planned_start=start, planned_end=end
        )
    assert "freeze_override_reason" in err.value.errors
    ch = cs.change_schedule(
        change=ch,
        actor=org.change_manager,
        planned_start=start,
        planned_end=end,
        freeze_override_reason="Payslips wrong for 4,000 staff",
    )
    assert ch.status == "scheduled" and ch.freeze_override_by == org.change_manager
    last = history_of(ch).filter(action="schedule").get()
    assert last.changes["freeze_override_reason"][1] == "Payslips wrong for 4,000 staff"
    ch = cs.change_implement(change=ch, actor=org.developer)
    ch = cs.change_fail(change=ch, actor=org.developer, comment="Broke exports; backed out")
    ch = cs.change_close(change=ch, actor=org.change_manager, review_notes="Test exports next time")
    assert (ch.status, ch.outcome) == ("closed", "failed")


def test_standard_change_skips_the_cab_but_not_the_freeze(org) -> None:  # type: ignore[no-untyped-def]
    template = StandardChangeTemplate.objects.create(
        name="Restart payroll batch service",
        implementation_plan="systemctl restart",
        backout_plan="none needed",
    )
    template.services.add(org.service)
    ch = cs.change_create(actor=org.developer, type="standard", template=template)
    assert ch.title == template.name and list(ch.services.all()) == [org.service]
    ch = cs.change_submit(change=ch, actor=org.developer)
    start, end = window()
    FreezeWindow.objects.create(name="Freeze", start=start, end=end)
    with pytest.raises(IllegalTransition):
        cs.change_schedule(
            change=ch, actor=org.change_manager, planned_start=start, planned_end=end
        )
    start, end = window(days=30)
    assert (
        cs.change_schedule(
            change=ch, actor=org.change_manager, planned_start=start, planned_end=end
        ).status
        == "scheduled"
    )
    with pytest.raises(ValidationFailed):
        cs.change_create(
            actor=org.developer, type="standard", title="no template", services=[org.service]
        )


def test_overlapping_changes_are_flagged(org, cab) -> None:  # type: ignore[no-untyped-def]
    start, end = window()
    first = approved_normal(org, cab)
    cs.change_schedule(change=first, actor=org.change_manager, planned_start=start, planned_end=end)
    second = approved_normal(org, cab)
    second = cs.change_schedule(
        change=second,
        actor=org.change_manager,
        planned_start=start + timedelta(hours=1),
        planned_end=end + timedelta(hours=1),
    )
    assert list(cs.conflicts_of(second)) == [first]
    assert history_of(second).filter(action="conflict_flagged").exists()


def test_permissions_and_plans(org, cab) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        cs.change_create(actor=org.requester, title="x", services=[org.service])
    ch = cs.change_create(actor=org.developer, title="No plans", services=[org.service])
    with pytest.raises(ValidationFailed) as err:
        cs.change_submit(change=ch, actor=org.developer)
    assert set(err.value.errors) == {"implementation_plan", "backout_plan", "test_plan"}
    ch = cs.change_submit(change=normal(org), actor=org.developer)
    with pytest.raises(ActionForbidden):
        cs.change_assess(change=ch, actor=org.developer, risk_answers={})
    with pytest.raises(ValidationFailed):
        cs.change_create(actor=org.developer, title="x", services=[])


# --- table of transitions per type --------------------------------------------------------
PATHS = {
    "normal": [
        "submit",
        "assess",
        "request_approval",
        "schedule",
        "implement",
        "complete",
        "close",
    ],
    "emergency": ["submit", "request_approval", "schedule", "implement", "complete", "close"],
    "standard": ["submit", "schedule", "implement", "complete", "close"],
}


@pytest.mark.parametrize("kind", list(PATHS))
def test_each_type_allows_exactly_its_path(org, kind) -> None:  # type: ignore[no-untyped-def]
    """At every step of the type's path only the next step (plus cancel/fail where the
    state allows them) is available: no skipping, no foreign path."""
    template = StandardChangeTemplate.objects.create(
        name="T", implementation_plan="i", backout_plan="b"
    )
    ch = Change(
        number=1,
        type=kind,
        template=template if kind == "standard" else None,
        title="t",
        requested_by=org.developer,
    )
    side_steps = {"cancel", "fail", "reject"}
    for step in PATHS[kind]:
        available = {t.name for t in ch.get_available_status_transitions()} - side_steps
        assert available == {step}, (kind, ch.status, available)
        getattr(ch, step)()
    assert ch.status == ChangeStatus.CLOSED


def test_change_api_contract(org, cab) -> None:  # type: ignore[no-untyped-def]
    dev, cm = api_as(org.developer), api_as(org.change_manager)
    res = dev.post(
        "/api/v1/changes/",
        {
            "title": "Upgrade",
            "services": [org.service.pk],
            "implementer": org.developer.pk,
            **PLANS,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    key = res.json()["key"]
    url = f"/api/v1/changes/{key}/"
    assert dev.post(url + "transitions/submit/", {}, format="json").status_code == 200
    assert (
        dev.post(url + "transitions/assess/", {"risk_answers": {}}, format="json").status_code
        == 403
    )
    res = cm.post(
        url + "transitions/assess/",
        {"risk_answers": {"hard_backout": True, "untested": True}},
        format="json",
    )
    assert res.status_code == 200 and res.json()["risk"] == "high"
    res = cm.post(
        url + "transitions/request_approval/", {"approvers": [cab[0].pk, cab[1].pk]}, format="json"
    )
    assert res.status_code == 200
    offered = [t["name"] for t in cm.get(url + "transitions/").json()]
    assert "schedule" not in offered and "cancel" in offered  # not before every approval
    start, end = window()
    res = cm.post(
        url + "transitions/schedule/",
        {"planned_start": start.isoformat(), "planned_end": end.isoformat()},
        format="json",
    )
    assert res.status_code == 409 and "approved" in res.json()["detail"]
    for member in cab:
        pending = api_as(member).get("/api/v1/approvals/").json()["results"]
        res = api_as(member).post(
            f"/api/v1/approvals/{pending[0]['id']}/decide/", {"decision": "approved"}, format="json"
        )
        assert res.status_code == 200
    FreezeWindow.objects.create(name="Freeze", start=start, end=end)
    res = cm.post(
        url + "transitions/schedule/",
        {"planned_start": start.isoformat(), "planned_end": end.isoformat()},
        format="json",
    )
    assert res.status_code == 409 and "freeze" in res.json()["detail"]
    later, later_end = window(days=40)
    res = cm.post(
        url + "transitions/schedule/",
        {"planned_start": later.isoformat(), "planned_end": later_end.isoformat()},
        format="json",
    )
    assert res.status_code == 200 and res.json()["status"] == "scheduled"
    assert res.json()["freeze_windows"] == [] and res.json()["conflicts"] == []
    assert dev.post(url + "transitions/implement/", {}, format="json").status_code == 200
    assert dev.post(url + "transitions/complete/", {}, format="json").status_code == 200
    assert cm.post(url + "transitions/close/", {}, format="json").status_code == 400
    res = cm.post(url + "transitions/close/", {"review_notes": "Fine"}, format="json")
    assert res.json()["status"] == "closed"
    assert len(cm.get(url + "approvals/").json()) == 2
    assert api_as(org.requester).get(url).status_code == 404
    admin = api_as(org.admin)
    res = admin.post(
        "/api/v1/freeze-windows/",
        {"name": "X", "start": end.isoformat(), "end": start.isoformat()},
        format="json",
    )
    assert res.status_code == 400 and "end" in res.json()["fields"]
    assert dev.post("/api/v1/freeze-windows/", {}, format="json").status_code == 403
