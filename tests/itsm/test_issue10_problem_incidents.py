"""Issue 10 #18: the Problem Manager's "resolve the linked incidents" resolved 0 of 3
("not in your queues"). The Problem Manager (and the Incident Manager) resolve a resolved
problem's incidents in one action, whatever queue holds them, each incident audited
naming the problem."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden
from core.selectors import history_of
from itsm import services
from itsm.models import Incident
from itsm.services import problems as ps
from tests.conftest import api_as, drive
from tests.itsm.test_problems import make_problem, to_state


def _three_in_three_queues(org) -> list[Incident]:  # type: ignore[no-untyped-def]
    """New at the desk; in progress with 2nd line; on hold with another desk."""
    new, second, held = (
        services.incident_create(actor=org.requester, service=org.service, title=f"Export {n}")
        for n in range(3)
    )
    second = services.incident_escalate(incident=second, actor=org.agent, reason="L2")
    second = services.incident_assign(incident=second, actor=org.support2, assignee=org.support2)
    second = services.incident_start(incident=second, actor=org.support2)
    held = services.incident_assign(
        incident=held, actor=org.agent, team=org.other_desk, assignee=org.agent_other
    )
    held = services.incident_start(incident=held, actor=org.agent_other)
    held = services.incident_hold(incident=held, actor=org.agent_other, reason="awaiting_vendor")
    return [new, second, held]


@pytest.mark.parametrize("manager", ["problem_manager", "incident_manager"])
def test_issue10_18_manager_resolves_every_linked_incident(org, manager) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #18: 3 of 3 resolved by the Problem Manager / Incident Manager, whatever
    queue holds them; each incident's audit names the problem; one row on the problem."""
    incidents = _three_in_three_queues(org)
    problem = to_state(make_problem(org, incidents), org, "resolved")
    actor = getattr(org, manager)
    result = ps.problem_resolve_incidents(problem=problem, actor=actor)
    assert result.skipped == {}
    assert sorted(i.key for i in result.resolved) == sorted(i.key for i in incidents)
    for inc in incidents:
        inc.refresh_from_db()
        assert inc.status == "resolved" and problem.key in inc.resolution_notes
        resolved = history_of(inc).get(action="resolve")
        assert resolved.actor == actor and problem.key in resolved.comment
    [row] = history_of(problem).filter(action="incidents_resolved")
    assert row.actor == actor and all(i.key in row.comment for i in incidents)


def test_issue10_18_an_agent_still_resolves_only_their_queue(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #18: the queue rule stays for agents; a requester is refused outright."""
    new, second, held = _three_in_three_queues(org)
    problem = to_state(make_problem(org, [new, second, held]), org, "resolved")
    result = ps.problem_resolve_incidents(problem=problem, actor=org.agent)
    assert [i.key for i in result.resolved] == [new.key]
    assert set(result.skipped) == {second.key, held.key}
    # The bypass is the problem's: an incident of another problem is not reachable by it.
    other = services.incident_create(actor=org.requester, service=org.service, title="Other")
    drive(other, org, "in_progress")
    with pytest.raises(ActionForbidden, match="may not"):
        services.incident_resolve(
            incident=other,
            actor=org.problem_manager,
            resolution_code="fixed",
            resolution_notes="x",
            via_problem=problem,
        )


def test_issue10_18_page_and_api(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #18: the page offers the Problem Manager all three and resolves them; the
    API does the same for the Incident Manager."""
    incidents = _three_in_three_queues(org)
    problem = to_state(make_problem(org, incidents), org, "resolved")
    pm = Client()
    pm.force_login(org.problem_manager)
    page = pm.get(problem.get_absolute_url()).content.decode()
    assert 'data-action="resolve-all"' in page and "Resolve the 3 open incidents" in page
    agent = Client()
    agent.force_login(org.agent)
    assert "Resolve the 1 open incident<" in agent.get(problem.get_absolute_url()).content.decode()
    res = pm.post(f"/problems/{problem.key}/incidents/resolve/")
    assert res.status_code == 302
    assert Incident.objects.filter(status="resolved").count() == 3

    others = _three_in_three_queues(org)
    problem2 = to_state(make_problem(org, others), org, "resolved")
    res = api_as(org.incident_manager).post(
        f"/api/v1/problems/{problem2.key}/resolve-incidents/", {}, format="json"
    )
    assert res.status_code == 200, res.content
    assert sorted(res.json()["resolved"]) == sorted(i.key for i in others)
    assert res.json()["skipped"] == {}
