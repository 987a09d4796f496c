"""Release control: UAT sign-off, the computed go-live gate, going live and rolling back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition
from core.models import OutboxMessage
from core.selectors import history_of
from itsm import services as itsm
from itsm.models import FreezeWindow
from itsm.services import approvals
from itsm.services import changes as cs
from projects import services as ps
from projects.gate import gate_checks
from projects.models import GateEvaluation
from tests.conftest import api_as

PLANS = {"implementation_plan": "deploy", "backout_plan": "redeploy", "test_plan": "smoke"}


def scheduled_change(org):  # type: ignore[no-untyped-def]
    ch = cs.change_create(
        actor=org.developer,
        title="Deploy PAY 2.3",
        services=[org.service],
        implementer=org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    ch = cs.change_request_approval(
        change=ch, actor=org.change_manager, approvers=[org.incident_manager]
    )
    [a] = approvals.approvals_of(ch)
    cs.change_decide(approval=a, actor=org.incident_manager, decision="approved")
    start = timezone.now() - timedelta(hours=1)  # go-live happens inside the window (#9)
    return cs.change_schedule(
        change=ch,
        actor=org.change_manager,
        planned_start=start,
        planned_end=start + timedelta(hours=2),
    )


@pytest.fixture
def ready_release(org, project):  # type: ignore[no-untyped-def]
    release = ps.release_create(
        actor=org.change_manager, project=project, version="2.3", change=scheduled_change(org)
    )
    for step in ("start_development", "start_testing"):
        release = ps.release_transition(release=release, actor=org.change_manager, name=step)
    return release


def test_done_when_of_release_control(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    release = ready_release
    inc = itsm.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payslip wrong",
        impact="high",
        urgency="medium",
    )
    inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="L2")
    defect = ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=release)
    blocker = ps.work_item_create(
        actor=org.developer,
        kind="defect",
        project=project,
        title="Crash on export",
        priority=1,
        target_release=release,
    )
    with pytest.raises(ActionForbidden):
        ps.release_sign_off_uat(release=release, actor=org.developer)
    release = ps.release_sign_off_uat(release=release, actor=org.support2)
    release = ps.release_transition(release=release, actor=org.change_manager, name="ready")
    failing = {c.name for c in gate_checks(release) if not c.passed}
    assert failing == {"items"}
    with pytest.raises(IllegalTransition, match=blocker.key):
        ps.release_go_live(release=release, actor=org.change_manager)
    assert (
        GateEvaluation.objects.filter(release=release, purpose="go_live", allowed=False).count()
        == 1
    )  # the refusal is kept
    ps.work_start(item=blocker, actor=org.developer)
    ps.work_fix(item=blocker, actor=org.developer)
    with pytest.raises(ActionForbidden):
        ps.release_go_live(release=release, actor=org.developer)
    release = ps.release_go_live(release=release, actor=org.change_manager)
    assert release.status == "live" and release.went_live_at
    release.change.refresh_from_db()
    assert release.change.status == "review"
    defect.refresh_from_db()
    assert defect.status == "released"
    told = OutboxMessage.objects.get(event="incident.fix_live")
    assert told.recipients == [org.requester.email]
    assert history_of(inc).filter(action="fix_released").exists()
    notes = ps.release_notes(release)
    assert defect in notes["fixes"] and blocker in notes["fixes"]
    assert GateEvaluation.objects.filter(release=release, allowed=True).count() == 1


def test_each_gate_check_can_close_it(org, project) -> None:  # type: ignore[no-untyped-def]
    release = ps.release_create(actor=org.change_manager, project=project, version="9.9")
    assert {c.name: c.passed for c in gate_checks(release)} == {
        "change": False,
        "uat": False,
        "items": True,
        "incidents": True,
    }
    change = scheduled_change(org)
    release.change = change
    release.save()
    FreezeWindow.objects.create(name="Freeze", start=change.planned_start, end=change.planned_end)
    itsm.incident_create(
        actor=org.requester, service=org.service, title="Down", impact="high", urgency="high"
    )
    checks = {c.name: c for c in gate_checks(release)}
    assert checks["change"].passed and checks["backout"].passed
    assert not checks["freeze"].passed and "Freeze" in checks["freeze"].reason
    assert not checks["incidents"].passed and "INC-" in checks["incidents"].reason


def test_roll_back_reopens_items_and_tells_requesters(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="x")
    defect = ps.incident_to_development(incident=inc, actor=org.agent, reason="bug")
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=ready_release)
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=org.change_manager, name="ready")
    release = ps.release_go_live(release=ready_release, actor=org.change_manager)
    release = ps.release_roll_back(
        release=release, actor=org.change_manager, reason="Exports broke"
    )
    defect.refresh_from_db()
    assert release.status == "rolled_back" and defect.status == "in_progress"
    assert OutboxMessage.objects.filter(event="incident.fix_rolled_back").exists()


def test_gate_api_pipeline_and_pages(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.agent)
    page = c.get(ready_release.get_absolute_url()).content.decode()
    assert 'id="gate"' in page and 'data-check="uat"' in page
    pipeline = api_as(org.change_manager)
    res = pipeline.get(f"/api/v1/releases/{ready_release.pk}/gate/")
    assert res.status_code == 200 and res.json()["allowed"] is False
    assert {c["name"] for c in res.json()["checks"] if not c["passed"]} == {"uat"}
    assert GateEvaluation.objects.filter(purpose="query").count() == 1
    assert (
        api_as(org.support2)
        .post(f"/api/v1/releases/{ready_release.pk}/sign-off-uat/", {}, format="json")
        .status_code
        == 200
    )
    cm = api_as(org.change_manager)
    res = cm.post(f"/api/v1/releases/{ready_release.pk}/go-live/", {}, format="json")
    assert res.status_code == 409  # still in testing
    cm.post(f"/api/v1/releases/{ready_release.pk}/transitions/ready/", {}, format="json")
    res = cm.post(f"/api/v1/releases/{ready_release.pk}/go-live/", {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "live"
    notes = cm.get(f"/api/v1/releases/{ready_release.pk}/notes/").json()
    assert set(notes) == {"features", "fixes", "known_issues"}
    assert c.get("/release-notes/").status_code == 200
    assert str(ready_release).encode() in c.get("/release-notes/").content
    page = c.get(ready_release.get_absolute_url())
    assert page.status_code == 200


def test_known_error_retired_when_its_fix_goes_live(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import problems as problems_services

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = problems_services.problem_create(
        actor=org.problem_manager, title="Exports", service=org.service, incidents=[inc]
    )
    problem = problems_services.problem_investigate(problem=problem, actor=org.problem_manager)
    problem = problems_services.problem_mark_known_error(
        problem=problem, actor=org.problem_manager, root_cause="limit", workaround="split"
    )
    defect = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Raise the limit"
    )
    ps.defect_link_problem(item=defect, actor=org.developer, problem=problem)
    assert (
        api_as(org.agent).get(f"/api/v1/problems/{problem.key}/").json()["defects"][0]["key"]
        == defect.key
    )
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=ready_release)
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=org.change_manager, name="ready")
    ps.release_go_live(release=ready_release, actor=org.change_manager)
    problem.refresh_from_db()
    assert problem.status == "resolved" and defect.key in problem.resolution_notes
    told = OutboxMessage.objects.get(event="problem.fix_live")
    assert told.recipients == [org.requester.email]
    c = Client()
    c.force_login(org.problem_manager)
    assert defect.key.encode() in c.get(problem.get_absolute_url()).content


def test_emergency_change_decision_moves_the_release(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    from core.roles import Role
    from tests.factories import UserFactory

    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    release = ready_release
    release.planned_date = timezone.localdate() + timedelta(days=10)
    release.save()
    normal = scheduled_change(org)
    with pytest.raises(Exception, match="not an emergency"):
        ps.emergency_decision_record(
            actor=org.change_manager,
            change=normal,
            release=release,
            project_manager=pm,
            slip_days=3,
        )
    emergency = cs.change_create(
        actor=org.developer, type="emergency", title="Hotfix", services=[org.service], **PLANS
    )
    with pytest.raises(ActionForbidden):
        ps.emergency_decision_record(
            actor=org.developer, change=emergency, release=release, project_manager=pm, slip_days=3
        )
    before = release.planned_date
    ps.emergency_decision_record(
        actor=org.change_manager,
        change=emergency,
        release=release,
        project_manager=pm,
        slip_days=3,
        developer=org.developer,
        note="Payslips first",
    )
    release.refresh_from_db()
    from projects.working_days import add_working_days

    # working days (issue 10 #24)
    assert release.planned_date == add_working_days(before, 3) and release.slip_days == 3
    assert release.original_planned_date == before
    assert history_of(emergency).filter(action="emergency_decision").exists()
    assert history_of(release).filter(action="emergency_decision").exists()
    c = Client()
    c.force_login(org.change_manager)
    assert b"slipped 3 working days" in c.get(release.get_absolute_url()).content
    page = c.get(emergency.get_absolute_url()).content.decode()
    assert "agreed" in page and str(release) in page
    res = c.post(
        f"/changes/{emergency.key}/emergency-decision/",
        {"release": release.pk, "project_manager": pm.pk, "slip_days": "2"},
    )
    assert res.status_code == 302
    release.refresh_from_db()
    assert release.slip_days == 5
    assert (
        api_as(org.change_manager).get(f"/api/v1/releases/{release.pk}/").json()["slip_days"] == 5
    )


def test_release_history_endpoint(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    actions = [
        h["action"]
        for h in api_as(org.agent)
        .get(f"/api/v1/releases/{ready_release.pk}/history/")
        .json()["results"]
    ]
    assert actions == ["created", "start_development", "start_testing", "uat_signed_off"]


def test_known_issues_stay_twenty_when_many_open_defects_target_the_release(  # type: ignore[no-untyped-def]
    org, project, release
) -> None:
    """The notes' known issues are the project's worst open defects the release does not
    fix. The cap that ranks them must make room for the ones targeted at the release
    (they drop out), not for its fixed items: with 24 targeted ones ranked first, the
    notes used to show 10 of the 20 known issues there are room for."""
    from projects.models import Kind
    from projects.selectors import KNOWN_ISSUES_SHOWN, release_notes_for

    for i in range(24):  # the worst ones, all to be fixed in this release
        ps.work_item_create(
            actor=org.developer,
            kind=Kind.DEFECT,
            project=project,
            title=f"targeted {i}",
            priority=1,
            target_release=release,
        )
    others = [
        ps.work_item_create(
            actor=org.developer, kind=Kind.DEFECT, project=project, title=f"known {i}", priority=2
        )
        for i in range(25)
    ]
    notes = release_notes_for([release])[release.pk]
    assert [i.pk for i in notes["known_issues"]] == [i.pk for i in others][:KNOWN_ISSUES_SHOWN]


def test_replayed_gate_counts_the_p1s_raised_by_its_moment(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 (the demo replays past go-lives): at a replayed moment the open-P1 check
    counts the P1s raised by then; live, every open P1 counts as before."""
    from core.services import history_at

    release = ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    release = ps.release_transition(release=release, actor=org.change_manager, name="ready")
    itsm.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payroll run down",
        impact="high",
        urgency="high",
    )
    assert "incidents" in {c.name for c in gate_checks(release) if not c.passed}
    with history_at(timezone.now() - timedelta(minutes=30)):  # inside the change's window
        assert all(c.passed for c in gate_checks(release))
