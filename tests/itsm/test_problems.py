"""Problem management: lifecycle, linking incidents, workaround, bulk resolution, API."""

from __future__ import annotations

import pytest

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import OutboxMessage
from core.selectors import history_of
from itsm import services
from itsm.models import Problem, ProblemStatus
from itsm.services import problems as ps
from tests.conftest import api_as, drive

STATES = [s.value for s in ProblemStatus]
ALLOWED = {
    "investigate": {"new"},
    "mark_known_error": {"investigating"},
    "resolve": {"investigating", "known_error"},
    "reopen": {"resolved"},
    "close": {"resolved"},
    "cancel": {"new", "investigating", "known_error"},
}
TARGET = {
    "investigate": "investigating",
    "mark_known_error": "known_error",
    "resolve": "resolved",
    "reopen": "investigating",
    "close": "closed",
    "cancel": "cancelled",
}
ARGS = {
    "mark_known_error": {"root_cause": "Bad index", "workaround": "Rerun the job"},
    "resolve": {"resolution_notes": "Index rebuilt"},
    "reopen": {"reason": "Back"},
    "cancel": {"reason": "Duplicate"},
}


def make_problem(org, incidents=()):  # type: ignore[no-untyped-def]
    return ps.problem_create(
        actor=org.problem_manager,
        title="Payroll export fails",
        service=org.service,
        incidents=incidents,
    )


def to_state(problem: Problem, org, state: str) -> Problem:  # type: ignore[no-untyped-def]
    pm = org.problem_manager
    if state == "new":
        return problem
    if state == "cancelled":
        return ps.problem_cancel(problem=problem, actor=pm, reason="x")
    problem = ps.problem_investigate(problem=problem, actor=pm)
    if state == "investigating":
        return problem
    problem = ps.problem_mark_known_error(problem=problem, actor=pm, **ARGS["mark_known_error"])
    if state == "known_error":
        return problem
    problem = ps.problem_resolve(problem=problem, actor=pm, resolution_notes="Fixed")
    if state == "resolved":
        return problem
    return ps.problem_close(problem=problem, actor=pm)


CASES = [(n, s, s in a) for n, a in ALLOWED.items() for s in STATES]


def test_table_covers_every_transition() -> None:
    declared = {t.name for t in Problem._meta.get_field("status").get_all_transitions(Problem)}
    assert declared == set(ALLOWED)


@pytest.mark.parametrize(
    ("name", "state", "allowed"), CASES, ids=[f"{n}-from-{s}" for n, s, _ in CASES]
)
def test_problem_transition_table(org, name, state, allowed) -> None:  # type: ignore[no-untyped-def]
    problem = to_state(make_problem(org), org, state)
    fire = ps.PROBLEM_TRANSITION_SERVICES[name]
    if allowed:
        assert (
            fire(problem=problem, actor=org.problem_manager, **ARGS.get(name, {})).status
            == TARGET[name]
        )
    else:
        with pytest.raises(IllegalTransition):
            fire(problem=problem, actor=org.problem_manager, **ARGS.get(name, {}))


def _three_incidents(org):  # type: ignore[no-untyped-def]
    return [
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Export fails {i}"
        )
        for i in range(3)
    ]


def test_group_three_incidents_publish_workaround_resolve_together(org) -> None:  # type: ignore[no-untyped-def]
    """The done-when of problem management, through the services."""
    incidents = _three_incidents(org)
    drive(incidents[1], org, "in_progress")
    drive(incidents[2], org, "in_progress")
    services.incident_hold(incident=incidents[2], actor=org.agent, reason="awaiting_vendor")
    problem = make_problem(org, incidents)
    assert problem.incidents.count() == 3
    for inc in incidents:
        assert history_of(inc).filter(action="linked_to_problem").exists()
    problem = ps.problem_investigate(problem=problem, actor=org.problem_manager)
    problem = ps.problem_publish_workaround(
        problem=problem, actor=org.problem_manager, workaround="Export in two halves"
    )
    for inc in incidents:
        inc.refresh_from_db()
        assert inc.problem.workaround_published and inc.problem.workaround == "Export in two halves"
        assert history_of(inc).filter(action="workaround_published").exists()
    assert OutboxMessage.objects.filter(event="problem.workaround").exists()
    problem = ps.problem_mark_known_error(
        problem=problem, actor=org.problem_manager, root_cause="Timeout on large files"
    )
    problem = ps.problem_resolve(
        problem=problem, actor=org.problem_manager, resolution_notes="Raised the export timeout"
    )
    told = OutboxMessage.objects.get(event="problem.resolved")
    assert org.agent.email in told.recipients
    result = ps.problem_resolve_incidents(problem=problem, actor=org.agent)
    assert sorted(i.key for i in result.resolved) == sorted(i.key for i in incidents)
    for inc in incidents:
        inc.refresh_from_db()
        assert inc.status == "resolved" and problem.key in inc.resolution_notes


def test_bulk_resolution_skips_what_the_agent_may_not_work(org) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = _three_incidents(org)[:2]
    services.incident_escalate(incident=theirs, actor=org.agent, reason="L2")
    problem = to_state(make_problem(org, [mine, theirs]), org, "resolved")
    result = ps.problem_resolve_incidents(problem=problem, actor=org.agent)
    assert [i.key for i in result.resolved] == [mine.key]
    assert theirs.key in result.skipped
    theirs.refresh_from_db()
    assert theirs.status == "assigned"


def test_bulk_resolution_needs_a_resolved_problem(org) -> None:  # type: ignore[no-untyped-def]
    problem = to_state(make_problem(org), org, "investigating")
    with pytest.raises(IllegalTransition):
        ps.problem_resolve_incidents(problem=problem, actor=org.agent)


def test_known_error_needs_root_cause_and_workaround(org) -> None:  # type: ignore[no-untyped-def]
    problem = to_state(make_problem(org), org, "investigating")
    with pytest.raises(ValidationFailed) as err:
        ps.problem_mark_known_error(problem=problem, actor=org.problem_manager, root_cause="x")
    assert "workaround" in err.value.errors
    problem.refresh_from_db()
    assert problem.status == "investigating"


def test_edited_workaround_stays_in_step_on_incidents(org) -> None:  # type: ignore[no-untyped-def]
    inc = _three_incidents(org)[0]
    problem = make_problem(org, [inc])
    ps.problem_publish_workaround(problem=problem, actor=org.problem_manager, workaround="v1")
    ps.problem_update(problem=problem, actor=org.problem_manager, workaround="v2")
    inc.refresh_from_db()
    assert inc.problem.workaround == "v2"
    assert history_of(inc).filter(action="workaround_published").count() == 2


def test_link_and_unlink(org) -> None:  # type: ignore[no-untyped-def]
    a, b, c = _three_incidents(org)
    problem = make_problem(org, [a])
    other = make_problem(org)
    ps.problem_link_incidents(problem=problem, actor=org.agent, incidents=[b])
    with pytest.raises(ValidationFailed):
        ps.problem_link_incidents(problem=other, actor=org.agent, incidents=[b])
    with pytest.raises(ActionForbidden):
        ps.problem_unlink_incident(problem=problem, actor=org.agent, incident=b)
    ps.problem_unlink_incident(problem=problem, actor=org.problem_manager, incident=b)
    b.refresh_from_db()
    assert b.problem is None
    with pytest.raises(ActionForbidden):
        ps.problem_link_incidents(problem=problem, actor=org.requester, incidents=[c])


def test_only_problem_manager_or_assignee_moves_it(org) -> None:  # type: ignore[no-untyped-def]
    problem = make_problem(org)
    with pytest.raises(ActionForbidden):
        ps.problem_investigate(problem=problem, actor=org.agent)
    problem = ps.problem_investigate(
        problem=problem, actor=org.problem_manager, assignee=org.developer
    )
    assert problem.assignee == org.developer
    ps.problem_mark_known_error(
        problem=problem, actor=org.developer, root_cause="r", workaround="w"
    )
    with pytest.raises(ActionForbidden):
        ps.problem_create(actor=org.requester, title="x", service=org.service)


def test_recurring_incident_candidates(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.selectors import recurring_incidents

    incidents = _three_incidents(org)
    groups = recurring_incidents()
    assert [(g.service, g.count) for g in groups] == [("Payroll", 3)]
    make_problem(org, incidents[:1])
    assert recurring_incidents() == []  # two left unlinked: under the minimum


# --- API ------------------------------------------------------------------------------------
def test_problem_api_done_when(org) -> None:  # type: ignore[no-untyped-def]
    incidents = _three_incidents(org)
    for inc in incidents:
        drive(inc, org, "in_progress")
    pm, agent = api_as(org.problem_manager), api_as(org.agent)
    res = pm.post(
        "/api/v1/problems/",
        {
            "title": "Export fails",
            "service": org.service.pk,
            "incidents": [incidents[0].key, incidents[1].key],
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["key"].startswith("PRB-") and body["linked_incidents"] == 2
    url = f"/api/v1/problems/{body['key']}/"
    linked = pm.post(url + "incidents/", {"incidents": [incidents[2].pk]}, format="json")
    assert linked.status_code == 200 and len(linked.json()["results"]) == 3
    assert (
        pm.post(url + "incidents/", {"incidents": ["INC-999999"]}, format="json").status_code == 400
    )
    assert pm.post(url + "transitions/investigate/", {}, format="json").status_code == 200
    res = pm.post(url + "publish-workaround/", {"workaround": "Split the export"}, format="json")
    assert res.status_code == 200 and res.json()["workaround_published_at"]
    shown = agent.get(f"/api/v1/incidents/{incidents[0].key}/").json()["problem"]
    assert shown["key"] == body["key"] and shown["workaround"] == "Split the export"
    res = pm.post(url + "transitions/mark_known_error/", {"root_cause": "Timeout"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "known_error"
    assert (
        agent.post(
            url + "transitions/resolve/", {"resolution_notes": "x"}, format="json"
        ).status_code
        == 403
    )
    assert pm.post(url + "transitions/resolve/", {}, format="json").status_code == 400
    assert pm.post(url + "transitions/close/", {}, format="json").status_code == 409
    pm.post(url + "transitions/resolve/", {"resolution_notes": "Timeout raised"}, format="json")
    res = agent.post(url + "resolve-incidents/", {}, format="json")
    assert res.status_code == 200 and len(res.json()["resolved"]) == 3
    history = [h["action"] for h in pm.get(url + "history/").json()["results"]]
    assert history[:2] == ["created", "incidents_linked"] and "incidents_resolved" in history
    assert api_as(org.requester).get(url).status_code == 404
    assert api_as(org.requester).get("/api/v1/problems/").json()["count"] == 0


def test_problem_candidates_api(org) -> None:  # type: ignore[no-untyped-def]
    _three_incidents(org)
    res = api_as(org.problem_manager).get("/api/v1/problems/candidates/")
    assert res.status_code == 200 and res.json()[0]["count"] == 3
    assert api_as(org.requester).get("/api/v1/problems/candidates/").status_code == 403
    assert api_as(org.agent).get("/api/v1/problems/candidates/?days=x").status_code == 400
