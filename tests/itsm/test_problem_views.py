"""Problem pages: the Problem Manager's whole flow in the browser."""

from __future__ import annotations

from django.test import Client

from itsm import services
from itsm.models import Problem
from tests.conftest import drive


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_problem_manager_flow_in_the_browser(org) -> None:  # type: ignore[no-untyped-def]
    incidents = [
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Export fails {i}"
        )
        for i in range(3)
    ]
    for inc in incidents:
        drive(inc, org, "in_progress")
    pm = client_for(org.problem_manager)
    candidates = pm.get("/problems/candidates/")
    assert candidates.status_code == 200 and incidents[0].key.encode() in candidates.content
    keys = " ".join(i.key for i in incidents)
    form = pm.get(f"/problems/new/?incidents={keys}&service={org.service.pk}")
    assert form.status_code == 200 and keys.encode() in form.content
    bad = pm.post("/problems/new/", {"title": "", "service": org.service.pk, "incidents": keys})
    assert bad.status_code == 400
    res = pm.post(
        "/problems/new/",
        {
            "title": "Export fails",
            "service": org.service.pk,
            "impact": "high",
            "urgency": "medium",
            "category": "software",
            "incidents": keys,
        },
    )
    problem = Problem.objects.get()
    assert res["Location"] == problem.get_absolute_url() and problem.incidents.count() == 3
    page = pm.get(problem.get_absolute_url()).content.decode()
    assert 'data-transition="investigate"' in page and incidents[2].key in page
    pm.post(f"/problems/{problem.key}/transitions/investigate/", {})
    pm.post(
        f"/problems/{problem.key}/edit/",
        {
            "title": "Export fails",
            "root_cause": "Timeout",
            "workaround": "Export in halves",
            "service": org.service.pk,
            "impact": "high",
            "urgency": "medium",
            "category": "software",
        },
    )
    pm.post(f"/problems/{problem.key}/incidents/publish/", {})
    agent_view = client_for(org.agent).get(incidents[0].get_absolute_url()).content.decode()
    assert "Export in halves" in agent_view and problem.key in agent_view
    requester_view = client_for(org.requester).get(incidents[0].get_absolute_url()).content
    assert b"Export in halves" in requester_view and problem.key.encode() not in requester_view
    res = pm.post(f"/problems/{problem.key}/transitions/resolve/", {"resolution_notes": ""})
    assert res.status_code == 400
    pm.post(f"/problems/{problem.key}/transitions/resolve/", {"resolution_notes": "Timeout raised"})
    agent = client_for(org.agent)
    assert b'data-action="resolve-all"' in agent.get(problem.get_absolute_url()).content
    agent.post(f"/problems/{problem.key}/incidents/resolve/", {})
    for inc in incidents:
        inc.refresh_from_db()
        assert inc.status == "resolved"


def test_link_an_incident_from_its_page_and_unlink(org) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_create(actor=org.requester, service=org.service, title="x")
    pm = client_for(org.problem_manager)
    pm.post(
        "/problems/new/",
        {
            "title": "P",
            "service": org.service.pk,
            "impact": "low",
            "urgency": "low",
            "category": "software",
        },
    )
    problem = Problem.objects.get()
    page = client_for(org.agent).get(inc.get_absolute_url()).content.decode()
    assert "Link to problem" in page
    client_for(org.agent).post(f"/problems/{problem.key}/incidents/link/", {"incidents": inc.key})
    inc.refresh_from_db()
    assert inc.problem == problem
    assert (
        client_for(org.agent)
        .post(f"/problems/{problem.key}/incidents/unlink/", {"incident": inc.key})
        .status_code
        == 403
    )
    pm.post(f"/problems/{problem.key}/incidents/unlink/", {"incident": inc.key})
    inc.refresh_from_db()
    assert inc.problem is None
    res = client_for(org.agent).post(
        f"/problems/{problem.key}/incidents/link/", {"incidents": "INC-424242"}
    )
    assert res.status_code == 400


def test_problem_pages_are_staff_only(org) -> None:  # type: ignore[no-untyped-def]
    requester = client_for(org.requester)
    assert requester.get("/problems/").status_code == 404
    assert requester.get("/problems/new/").status_code == 404
    staff = client_for(org.developer)
    assert staff.get("/problems/").status_code == 200
    assert staff.get("/problems/PRB-1/").status_code == 404
