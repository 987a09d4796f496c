"""Issue 10, release control and the incident↔defect bridge: #7 rollback undoes the
go-live everywhere, #8 notes and gate count what is done, #9 the change window, #21 no
orphan after escalation, #24 the emergency decision as a resource."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core.models import OutboxMessage
from core.roles import Role
from core.selectors import history_of
from itsm import services as itsm
from itsm.models import Change
from itsm.services import changes as cs
from itsm.services import problems as problem_services
from knowledge.models import Article
from projects import services as ps
from projects.gate import gate_checks
from projects.models import EmergencyDecision, GateEvaluation, Release, WorkItem
from projects.suspects import suspects_for
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.projects.test_release_control import PLANS, ready_release, scheduled_change

__all__ = ["ready_release"]  # the fixture, used by name


def _to_live(org, release):  # type: ignore[no-untyped-def]
    ps.release_sign_off_uat(release=release, actor=org.support2)
    ps.release_transition(release=release, actor=org.change_manager, name="ready")
    return ps.release_go_live(release=release, actor=org.change_manager)


def _emails(event: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(event=event))


# --- #7 ----------------------------------------------------------------------------------
def test_roll_back_undoes_what_the_go_live_did_on_every_record(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #7: after a rollback the change is backed out (failed), the problem the
    release resolved is a known error again, its article no longer says "Fixed", the
    defect is no longer "fixed in" the release, the rolled-back change is marked as a
    suspect, and everyone the go-live told hears of the rollback."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Exports", service=org.service, incidents=[inc]
    )
    problem = problem_services.problem_investigate(problem=problem, actor=org.problem_manager)
    problem = problem_services.problem_mark_known_error(
        problem=problem, actor=org.problem_manager, root_cause="limit", workaround="split it"
    )
    problem_services.problem_publish_workaround(problem=problem, actor=org.problem_manager)
    article = Article.objects.get(problem=problem)
    defect = ps.incident_to_development(incident=inc, actor=org.agent, reason="bug")
    ps.defect_link_problem(item=defect, actor=org.developer, problem=problem)
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=ready_release)

    release = _to_live(org, ready_release)
    assert release.go_live_record["change"] == release.change_id
    assert release.go_live_record["items"] == [defect.pk]
    assert release.go_live_record["problems"] == [{"id": problem.pk, "from": "known_error"}]
    problem.refresh_from_db()
    article.refresh_from_db()
    assert problem.status == "resolved" and "## Fixed" in article.body
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        during = itsm.incident_create(
            actor=org.requester2, service=org.service, title="Payslips blank"
        )
    with time_machine.travel(later + timedelta(minutes=5), tick=False):
        release = ps.release_roll_back(
            release=release, actor=org.change_manager, reason="Exports broke"
        )
    with time_machine.travel(later + timedelta(minutes=10), tick=False):
        after = itsm.incident_create(actor=org.requester2, service=org.service, title="Other")

    change = Change.objects.get(pk=release.change_id)
    assert change.status == "failed" and change.outcome == "failed"
    assert release.rolled_back_at is not None
    problem.refresh_from_db()
    assert problem.status == "known_error" and problem.resolution_notes == ""
    article.refresh_from_db()
    assert "## Fixed" not in article.body and str(release) not in article.body
    assert not (article.needs_review and "is resolved" in article.needs_review_reason)
    defect.refresh_from_db()
    assert defect.status == "in_progress"
    assert defect.fixed_in_release is None and defect.target_release is None
    staff = Client()
    staff.force_login(org.agent)
    page = staff.get(inc.get_absolute_url()).content.decode()
    assert "Fixed in" not in page
    # the rolled-back change: marked for the incident raised while it was live, and no
    # suspect at all for one raised after it was undone
    [suspect] = suspects_for(during)
    assert suspect.change.pk == change.pk and suspect.withdrawn_how == "rolled back"
    assert suspects_for(after) == []
    page = staff.get(during.get_absolute_url()).content.decode()
    assert f'data-withdrawn="{change.key}"' in page
    # everyone the go-live told
    assert [m.recipients for m in _emails("incident.fix_rolled_back")] == [[org.requester.email]]
    assert [m.recipients for m in _emails("problem.fix_withdrawn")] == [[org.requester.email]]
    assert [m.recipients for m in _emails("incident.release_rolled_back")] == [
        [org.requester2.email]
    ]
    [team_notice] = _emails("release.rolled_back")
    assert org.developer.email in team_notice.recipients  # the dev team
    assert org.support2.email in team_notice.recipients  # the desk/support of its services
    assert history_of(during).filter(action="release_rolled_back").exists()


def test_roll_back_withdraws_the_review_flags_the_go_live_raised(
    org, project, ready_release
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #7: the knowledge base reacts to the rollback (core.events): a flag the
    go-live raised and nobody handled is withdrawn."""
    from knowledge.services import article_create, article_transition

    a = article_create(
        actor=org.agent, title="Payslip FAQ", body="How to read it.", services=[org.service]
    )
    article_transition(article=a, actor=org.agent, name="submit_review")
    article_transition(article=a, actor=org.agent, name="publish")
    release = _to_live(org, ready_release)
    a.refresh_from_db()
    assert a.needs_review and a.review_release_id == release.pk
    ps.release_roll_back(release=release, actor=org.change_manager, reason="broken")
    a.refresh_from_db()
    assert not a.needs_review
    assert history_of(a).filter(action="unflagged").exists()


# --- #8 ----------------------------------------------------------------------------------
def test_notes_list_done_items_and_the_gate_refuses_unfinished_ones(
    org, project, ready_release
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #8: an enhancement still open is not "New and changed"; the gate names it
    and refuses until it is done or moved out by a recorded decision (page and API)."""
    idle = ps.work_item_create(
        actor=org.developer,
        kind="enhancement",
        project=project,
        title="Overtime per week",
        target_release=ready_release,
    )
    done = ps.work_item_create(
        actor=org.developer,
        kind="enhancement",
        project=project,
        title="Export to CSV",
        target_release=ready_release,
    )
    ps.work_start(item=done, actor=org.developer)
    ps.work_fix(item=done, actor=org.developer)
    notes = ps.release_notes(ready_release)
    assert notes["features"] == [done]
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=org.change_manager, name="ready")
    items = {c.name: c for c in gate_checks(ready_release)}["items"]
    assert not items.passed and idle.key in items.reason
    cm = api_as(org.change_manager)
    res = cm.post(f"/api/v1/releases/{ready_release.pk}/go-live/", {}, format="json")
    assert res.status_code == 409 and idle.key in res.json()["detail"]
    staff = Client()
    staff.force_login(org.change_manager)
    page = staff.get(ready_release.get_absolute_url()).content.decode()
    assert f'data-unfinished="{idle.key}"' in page and 'data-action="move-out"' in page
    res = cm.post(
        f"/api/v1/releases/{ready_release.pk}/move-out/", {"items": [idle.key]}, format="json"
    )
    assert res.status_code == 400  # the reason is required
    res = cm.post(
        f"/api/v1/releases/{ready_release.pk}/move-out/",
        {"items": [done.key], "reason": "x"},
        format="json",
    )
    assert res.status_code == 400  # only unfinished items move out
    res = staff.post(
        f"/releases/{ready_release.pk}/move-out/",
        {"items": [idle.key], "reason": "Not started; next release"},
    )
    assert res.status_code == 302
    idle.refresh_from_db()
    assert idle.target_release is None
    assert history_of(idle).filter(action="moved_out").exists()
    assert history_of(ready_release).filter(action="items_moved_out").exists()
    res = cm.post(f"/api/v1/releases/{ready_release.pk}/go-live/", {}, format="json")
    assert res.status_code == 200, res.content
    [mail] = _emails("release.live")
    assert done.key in mail.body and idle.key not in mail.body
    features = cm.get(f"/api/v1/releases/{ready_release.pk}/notes/").json()["features"]
    assert [f["key"] for f in features] == [done.key]
    assert "Overtime per week" not in staff.get("/release-notes/").content.decode()


def test_notes_never_list_an_open_item_even_targeted(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #8: targeted is not shipped, on the desk's release notes too."""
    ps.work_item_create(
        actor=org.developer,
        kind="enhancement",
        project=project,
        title="Never started",
        target_release=release,
    )
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    release.refresh_from_db()
    assert ps.release_notes(release)["features"] == []
    assert "Never started" not in ps.release_notes_text(release)


# --- #9 ----------------------------------------------------------------------------------
def test_go_live_only_inside_the_change_window_or_with_a_change_managers_reason(
    org, project, ready_release
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #9: a change approved for a later window cannot be implemented now
    unless the Change Manager records why; the page shows window, risk and CAB."""
    change = ready_release.change
    start = timezone.now() + timedelta(days=7)
    Change.objects.filter(pk=change.pk).update(
        planned_start=start, planned_end=start + timedelta(hours=2)
    )
    ready_release.refresh_from_db()
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=org.change_manager, name="ready")
    window = {c.name: c for c in gate_checks(ready_release)}["window"]
    assert not window.passed and "approved for" in window.reason
    staff = Client()
    staff.force_login(org.change_manager)
    page = staff.get(ready_release.get_absolute_url()).content.decode()
    assert 'id="change-window"' in page and 'id="cab-decisions"' in page
    assert 'id="change-risk"' in page and change.get_absolute_url() in page
    assert 'name="outside_window_reason"' in page
    cm = api_as(org.change_manager)
    res = cm.post(f"/api/v1/releases/{ready_release.pk}/go-live/", {}, format="json")
    assert res.status_code == 409 and "window" in res.json()["detail"]
    release_manager = UserFactory(username="rm", roles=[Role.RELEASE_MANAGER])
    res = api_as(release_manager).post(
        f"/api/v1/releases/{ready_release.pk}/go-live/",
        {"outside_window_reason": "why not"},
        format="json",
    )
    assert res.status_code == 403
    change = Change.objects.get(pk=change.pk)
    assert change.status == "scheduled" and not change.outcome
    res = cm.post(
        f"/api/v1/releases/{ready_release.pk}/go-live/",
        {"outside_window_reason": "Payroll run needs the fix tonight"},
        format="json",
    )
    assert res.status_code == 200, res.content
    evaluation = GateEvaluation.objects.filter(purpose="go_live", allowed=True).get()
    [window] = [c for c in evaluation.checks if c["name"] == "window"]
    assert "Payroll run needs the fix tonight" in window["reason"]
    assert history_of(ready_release).filter(
        action="go_live", comment__contains="Payroll run needs the fix tonight"
    )
    assert res.json()["change"]["planned_start"] is not None
    outside = history_of(change).get(action="outside_window")
    assert "Payroll run needs the fix tonight" in outside.comment


# --- #21 ---------------------------------------------------------------------------------
def test_starting_the_defect_takes_and_answers_the_escalated_incident(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #21: escalation leaves the incident with nobody, so the team lead is
    told; the developer who starts the defect becomes its assignee (audited), and its
    response clock is met."""
    from sla.models import SlaClock

    inc = itsm.incident_create(
        actor=org.requester, service=org.service, title="Payslip wrong", impact="high"
    )
    defect = ps.incident_to_development(incident=inc, actor=org.agent, reason="bug")
    inc.refresh_from_db()
    assert inc.status == "assigned" and inc.assignee is None and inc.team == org.dev
    [notice] = _emails("incident.unassigned_lead")
    assert notice.recipients == [org.dev.lead.email] and inc.key in notice.subject
    ps.work_start(item=defect, actor=org.developer)
    inc.refresh_from_db()
    assert inc.assignee == org.developer and inc.responded_at is not None
    taken = history_of(inc).filter(action="assign").latest("pk")
    assert taken.actor == org.developer and defect.key in taken.comment
    response = SlaClock.objects.get(object_id=inc.pk, target="response")
    assert response.state == "met"


def test_sla_escalation_tells_the_lead_nobody_holds_it(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #21: the SLA escalation path (Tandem escalating, no actor) tells the lead
    of the receiving team when nobody holds the incident."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Slow")
    itsm.incident_escalate(incident=inc, actor=None, reason="Automatic escalation: breached")
    [notice] = _emails("incident.unassigned_lead")
    assert notice.recipients == [org.support.lead.email]


# --- #24 ---------------------------------------------------------------------------------
@pytest.fixture
def emergency(org):  # type: ignore[no-untyped-def]
    return cs.change_create(
        actor=org.developer, type="emergency", title="Hotfix", services=[org.service], **PLANS
    )


def test_emergency_decision_api_confirm_contest_and_working_days(org, project, emergency) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #24: the decision is an API resource (list/create/detail, confirm and
    contest), records the developer, moves the release in the project's working days;
    only the Project Manager named confirms or contests it."""
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    friday = date(2026, 12, 4)
    release = Release.objects.create(project=project, version="3.0", planned_date=friday)
    cm = api_as(org.change_manager)
    body = {
        "change": emergency.key,
        "release": release.pk,
        "project_manager": pm.pk,
        "developer": org.developer.pk,
        "slip_days": 2,
        "note": "Payslips first",
    }
    assert (
        api_as(org.developer).post("/api/v1/emergency-decisions/", body, format="json").status_code
        == 403
    )
    outsider = UserFactory(username="outsider", roles=[Role.DEVELOPER])
    res = cm.post("/api/v1/emergency-decisions/", {**body, "developer": outsider.pk}, format="json")
    assert res.status_code == 400  # not in the project's team
    res = cm.post("/api/v1/emergency-decisions/", body, format="json")
    assert res.status_code == 201, res.content
    d = res.json()
    assert d["developer"]["username"] == org.developer.username and d["status"] == "proposed"
    # two working days after a Friday is the Tuesday, not the Sunday
    assert d["planned_date_after"] == "2026-12-08"
    release.refresh_from_db()
    assert release.planned_date == date(2026, 12, 8) and release.slip_days == 2
    assert cm.get("/api/v1/emergency-decisions/").json()["count"] == 1
    assert cm.get(f"/api/v1/emergency-decisions/?change={emergency.key}").json()["count"] == 1
    url = f"/api/v1/emergency-decisions/{d['id']}/"
    assert cm.get(url).json()["change"] == emergency.key
    assert cm.post(url + "confirm/", {}, format="json").status_code == 403  # not the PM named
    # the Project Manager sees Confirm / Contest on the change page; others do not
    page = Client()
    page.force_login(pm)
    assert (
        'data-action="confirm-decision"' in page.get(emergency.get_absolute_url()).content.decode()
    )
    other = Client()
    other.force_login(org.change_manager)
    assert (
        'data-action="confirm-decision"'
        not in other.get(emergency.get_absolute_url()).content.decode()
    )
    res = api_as(pm).post(url + "confirm/", {"comment": "Agreed"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "confirmed"
    assert api_as(pm).post(url + "contest/", {"reason": "no"}, format="json").status_code == 409
    assert history_of(release).filter(action="emergency_decision_confirmed").exists()
    assert _emails("release.emergency_confirmed")[0].recipients == [org.change_manager.email]
    # a second decision, contested: its slip is taken back
    res = cm.post("/api/v1/emergency-decisions/", {**body, "slip_days": 1}, format="json")
    second = res.json()
    assert second["planned_date_after"] == "2026-12-09"
    res = page.post(
        f"/emergency-decisions/{second['id']}/contest/", {"reason": "Release is contractual"}
    )
    assert res.status_code == 302
    assert EmergencyDecision.objects.get(pk=second["id"]).status == "contested"
    release.refresh_from_db()
    assert release.planned_date == date(2026, 12, 8)
    assert history_of(emergency).filter(action="emergency_decision_contested").exists()
    nested = f"/api/v1/changes/{emergency.key}/emergency-decisions/"
    assert len(cm.get(nested).json()) == 2
    res = cm.post(nested, {**body, "slip_days": 0}, format="json")
    assert res.status_code == 201 and res.json()["change"] == emergency.key
    schema = cm.get("/api/v1/schema/").content.decode()
    assert "/api/v1/emergency-decisions/{id}/confirm/" in schema


def test_slip_follows_the_projects_calendar(org, project, emergency) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #24: a holiday in the team's calendar is not a working day."""
    from datetime import time

    from sla.models import BusinessCalendar, Holiday, WorkingPeriod

    cal = BusinessCalendar.objects.create(name="Payroll team")
    for weekday in range(5):
        WorkingPeriod.objects.create(calendar=cal, weekday=weekday, start=time(9), end=time(17))
    Holiday.objects.create(calendar=cal, date=date(2026, 12, 7), name="Team day")
    project.calendar = cal
    project.save()
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    release = Release.objects.create(project=project, version="3.1", planned_date=date(2026, 12, 4))
    d = ps.emergency_decision_record(
        actor=org.change_manager,
        change=emergency,
        release=release,
        project_manager=pm,
        slip_days=1,
    )
    assert d.planned_date_after == date(2026, 12, 8)  # Fri → (weekend, holiday) → Tue
    release.refresh_from_db()
    assert release.slip_days == 1


def test_rollback_of_a_release_without_go_live_record_still_reverses(
    org, project, ready_release
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #7: a release that went live before the go-live record existed is rolled
    back from what its records say (change in review, released items)."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="x")
    defect = ps.incident_to_development(incident=inc, actor=org.agent, reason="bug")
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=ready_release)
    release = _to_live(org, ready_release)
    Release.objects.filter(pk=release.pk).update(go_live_record={})
    release.refresh_from_db()
    ps.release_roll_back(release=release, actor=org.change_manager, reason="broken")
    assert Change.objects.get(pk=release.change_id).status == "failed"
    assert WorkItem.objects.get(pk=defect.pk).fixed_in_release is None
    assert scheduled_change  # the shared helper schedules a window around now


def test_a_release_manager_takes_a_release_live_and_back(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #7: go-live and rollback by a Release Manager (who may not move changes
    by hand) still implement and back out the deploying change, on their behalf."""
    rm = UserFactory(username="rm", roles=[Role.RELEASE_MANAGER])
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=rm, name="ready")
    release = ps.release_go_live(release=ready_release, actor=rm)
    assert Change.objects.get(pk=release.change_id).status == "review"
    ps.release_roll_back(release=release, actor=rm, reason="broken")
    change = Change.objects.get(pk=release.change_id)
    assert change.status == "failed"
    assert str(rm) in history_of(change).filter(action="fail").get().comment


def test_implementing_a_change_by_hand_outside_its_window_is_recorded(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #9 (the same mistake elsewhere): a change implemented by hand before its
    approved window is not refused, but the change's history says so."""
    change = scheduled_change(org)
    start = timezone.now() + timedelta(days=7)
    Change.objects.filter(pk=change.pk).update(
        planned_start=start, planned_end=start + timedelta(hours=2)
    )
    cs.change_implement(change=change, actor=org.developer)
    assert "outside its approved window" in history_of(change).get(action="outside_window").comment
    inside = scheduled_change(org)
    cs.change_implement(change=inside, actor=org.developer)
    assert not history_of(inside).filter(action="outside_window").exists()
