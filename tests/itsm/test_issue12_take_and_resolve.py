"""Issue 12, one ticket in few clicks: *Assign to me* from the queue row, the ticket page
and the API (one click, one audit row), and *Resolve* straight from assigned with the start
it implies recorded by the start service (its audit row, the response clock)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.exceptions import ActionForbidden, ConflictError
from core.models import AuditEvent
from itsm import services
from itsm.models import Incident
from tests.conftest import api_as


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _actions(incident: Incident) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=incident.pk, content_type__model="incident")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_take_is_one_click_from_the_queue_and_the_page(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    queue = agent.get("/desk/").content.decode()
    assert f'data-take="{new_incident.key}"' in queue
    r = agent.post(f"/incidents/{new_incident.key}/take/", {"next": "/desk/?queue=mine"})
    assert r.status_code == 302 and r["Location"] == "/desk/?queue=mine"
    new_incident.refresh_from_db()
    assert new_incident.assignee == org.agent and new_incident.status == "assigned"
    assert new_incident.responded_at is not None
    assert _actions(new_incident)[-1] == "assign"
    # taken: no longer offered to its holder, and a second take is a clear 409
    page = agent.get(new_incident.get_absolute_url()).content.decode()
    assert 'data-action="take"' not in page
    with pytest.raises(ConflictError, match="yours already"):
        services.incident_take(incident=new_incident, actor=org.agent)


def test_take_is_offered_only_to_members_of_the_queue(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    outsider = _client(org.agent_other)  # another desk's agent
    page = outsider.get(new_incident.get_absolute_url())
    assert 'data-action="take"' not in page.content.decode()
    assert outsider.post(f"/incidents/{new_incident.key}/take/").status_code == 403
    with pytest.raises(ActionForbidden):
        services.incident_take(incident=new_incident, actor=org.requester)
    page = _client(org.agent).get(new_incident.get_absolute_url()).content.decode()
    assert 'data-action="take"' in page


def test_take_through_the_api(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = api_as(org.agent).post(f"/api/v1/incidents/{new_incident.key}/take/")
    assert r.status_code == 200 and r.json()["assignee"]["username"] == "agent"
    assert api_as(org.agent).post(f"/api/v1/incidents/{new_incident.key}/take/").status_code == 409
    assert api_as(org.requester).post(
        f"/api/v1/incidents/{new_incident.key}/take/"
    ).status_code in (
        403,
        404,
    )


def test_resolve_from_assigned_records_the_implied_start(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    taken = services.incident_take(incident=new_incident, actor=org.agent)
    agent = _client(org.agent)
    page = agent.get(taken.get_absolute_url()).content.decode()
    assert 'data-transition="resolve"' in page
    r = agent.post(
        f"/incidents/{taken.key}/transitions/resolve/",
        {"resolution_code": "fixed", "resolution_notes": "Cleared the cache."},
    )
    assert r.status_code == 302
    done = Incident.objects.get(pk=taken.pk)
    assert done.status == "resolved" and done.resolved_at is not None
    assert _actions(done)[-3:] == ["assign", "start", "resolve"]
    start = AuditEvent.objects.get(object_id=done.pk, action="start")
    assert (start.from_state, start.to_state) == ("assigned", "in_progress")
    assert start.comment == "Started on resolving" and start.actor == org.agent


def test_a_refused_resolve_from_assigned_leaves_no_implied_start(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    taken = services.incident_take(incident=new_incident, actor=org.agent)
    with pytest.raises(ActionForbidden):
        services.incident_resolve(
            incident=taken, actor=org.agent_other, resolution_code="fixed", resolution_notes="x"
        )
    assert Incident.objects.get(pk=taken.pk).status == "assigned"
    assert "start" not in _actions(taken)


def test_queue_take_buttons_cost_no_query_per_row(org) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent.get("/desk/").status_code == 200
        return len(ctx.captured_queries)

    services.incident_create(
        actor=org.requester, service=org.service, title="one", impact="low", urgency="low"
    )
    queries()
    few = queries()
    for n in range(5):
        services.incident_create(
            actor=org.requester, service=org.service, title=f"n{n}", impact="low", urgency="low"
        )
    assert queries() == few


def test_a_refused_assignment_keeps_the_form_and_says_what_to_change(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: assigning a member of another team ended on a bare error page with the
    form lost; now the form stays open, as posted, with the service's reason."""
    agent = _client(org.agent)
    r = agent.post(
        f"/incidents/{new_incident.key}/transitions/assign/",
        {"assignee": org.support2.pk, "comment": "over to you"},
    )
    assert r.status_code == 400
    page = r.content.decode()
    assert 'data-transition="assign"' in page and "data-form-error" in page
    assert "is not a member of" in page
    assert f'value="{org.support2.pk}"' in page and "over to you</textarea>" in page
    chosen = page[page.index(f'<option value="{org.support2.pk}"') :].split(">", 1)[0]
    assert "selected" in chosen
    assert Incident.objects.get(pk=new_incident.pk).assignee is None
    assert "assign" not in _actions(new_incident)


def test_problem_transition_refused_by_the_service_keeps_the_page(org) -> None:  # type: ignore[no-untyped-def]
    """The same mistake on problems: a known error without a root cause was refused on a
    bare error page; the problem page now comes back with the form open and the reason."""
    from tests.itsm.test_problems import make_problem, to_state

    problem = to_state(make_problem(org), org, "investigating")
    pm = _client(org.problem_manager)
    r = pm.post(f"/problems/{problem.key}/transitions/mark_known_error/", {})
    assert r.status_code == 400
    page = r.content.decode()
    assert 'id="action-error"' in page and "needs its root cause" in page
    assert problem.title in page  # the problem's own page, not an error page


def test_unassigned_queue_is_the_users_teams(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: "Unassigned" lists what nobody holds in the queues the user works in, not
    every team's; someone in no team (a process manager) still sees them all."""
    from itsm import selectors

    mine = services.incident_create(
        actor=org.requester, service=org.service, title="desk's", impact="low", urgency="low"
    )
    elsewhere = services.incident_create(
        actor=org.requester, service=org.service, title="2nd line's", impact="low", urgency="low"
    )
    services.incident_assign(incident=elsewhere, actor=org.agent, team=org.support)
    agent_view = set(selectors.incident_queue(org.agent, "unassigned"))
    assert mine in agent_view and elsewhere not in agent_view
    support_view = set(selectors.incident_queue(org.support2, "unassigned"))
    assert elsewhere in support_view and mine not in support_view
    manager_view = set(selectors.incident_queue(org.incident_manager, "unassigned"))
    assert {mine, elsewhere} <= manager_view
