"""Issue 10 review, #18 with the assignment rule: walking an incident to resolved in a
problem's name, the Problem Manager (or Incident Manager) who is no member of the
incident's team must not become its assignee (an assignee is a member of the incident's
team: incident_assign refuses anyone else). ``incident_start`` made whoever started an
unheld incident its assignee, whatever their team."""

from __future__ import annotations

import pytest

from itsm import services
from itsm.services import problems as ps
from tests.itsm.test_problems import make_problem, to_state


@pytest.mark.parametrize("manager", ["problem_manager", "incident_manager"])
def test_issue10_18_manager_does_not_become_assignee_outside_their_team(org, manager) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #18: the escalated, unheld incident is resolved by the manager, audited
    as theirs, and keeps nobody as its assignee rather than a non-member."""
    inc = services.incident_create(actor=org.requester, service=org.service, title="Export")
    inc = services.incident_escalate(incident=inc, actor=org.agent, reason="L2")
    assert inc.assignee is None and inc.team == org.support
    problem = to_state(make_problem(org, [inc]), org, "resolved")
    actor = getattr(org, manager)
    assert not org.support.members.filter(pk=actor.pk).exists()

    result = ps.problem_resolve_incidents(problem=problem, actor=actor)

    assert [i.key for i in result.resolved] == [inc.key]
    inc.refresh_from_db()
    assert inc.status == "resolved"
    assert inc.assignee is None or org.support.members.filter(pk=inc.assignee_id).exists()


def test_issue10_18_a_team_member_starting_still_takes_it(org) -> None:  # type: ignore[no-untyped-def]
    """The start rule stands for those who may hold the incident."""
    inc = services.incident_create(actor=org.requester, service=org.service, title="Export")
    inc = services.incident_escalate(incident=inc, actor=org.agent, reason="L2")
    inc = services.incident_start(incident=inc, actor=org.support2)
    assert inc.assignee == org.support2
