"""The incident API contract: status codes, permissions, filters, transitions, history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from itsm import services
from tests.conftest import api_as, drive

URL = "/api/v1/incidents/"


def test_token_then_token_auth(org) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    res = client.post(
        "/api/v1/auth/token/", {"username": "requester", "password": "pw"}, format="json"
    )
    assert res.status_code == 200, res.content
    token = res.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(URL).status_code == 200


def test_bad_password_is_400(org) -> None:  # type: ignore[no-untyped-def]
    res = APIClient().post("/api/v1/auth/token/", {"username": "requester", "password": "x"})
    assert res.status_code == 400


def test_anonymous_is_401(db) -> None:  # type: ignore[no-untyped-def]
    assert APIClient().get(URL).status_code == 401


def test_create_shows_key_and_computed_priority(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.requester).post(
        URL,
        {
            "title": "Cannot download payslip",
            "service": org.service.pk,
            "impact": "high",
            "urgency": "high",
            "priority": 5,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["key"].startswith("INC-")
    assert body["priority"] == 1  # computed; a client cannot set it
    # The requester reads the team by name, not the tier (issue 10 #1: as their page).
    assert (body["status"], body["tier"]) == ("new", None)
    assert body["team"]["name"] == "Service Desk"
    assert body["requester"]["username"] == "requester"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"service": 1}, "title"),
        ({"title": "x"}, "service"),
        ({"title": "x", "service": 999999}, "service"),
        ({"title": "x", "service": None, "impact": "huge"}, "impact"),
    ],
)
def test_create_bad_input_is_400_naming_the_field(org, payload, field) -> None:  # type: ignore[no-untyped-def]
    if payload.get("service") == 1:
        payload["service"] = org.service.pk
    res = api_as(org.requester).post(URL, payload, format="json")
    assert res.status_code == 400
    assert field in res.json()["fields"]


def test_requester_gets_404_for_someone_elses_incident(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    other = api_as(org.requester2)
    assert other.get(f"{URL}{new_incident.pk}/").status_code == 404
    assert other.get(f"{URL}{new_incident.key}/history/").status_code == 404
    assert (
        other.post(f"{URL}{new_incident.pk}/transitions/cancel/", {}, format="json").status_code
        == 404
    )
    assert other.get(URL).json()["count"] == 0


def test_retrieve_by_key_or_id(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    assert client.get(f"{URL}{new_incident.key}/").json()["id"] == new_incident.pk
    assert client.get(f"{URL}{new_incident.pk}/").json()["key"] == new_incident.key
    assert client.get(f"{URL}INC-abc/").status_code == 404


def test_transitions_lists_what_this_user_may_fire_now(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    names = [
        t["name"] for t in api_as(org.agent).get(f"{URL}{new_incident.pk}/transitions/").json()
    ]
    assert names == ["assign", "escalate", "cancel"]
    names = [
        t["name"] for t in api_as(org.requester).get(f"{URL}{new_incident.pk}/transitions/").json()
    ]
    assert names == ["cancel"]
    assign = api_as(org.agent).get(f"{URL}{new_incident.pk}/transitions/").json()[0]
    assert set(assign["fields"]) == {"team", "assignee", "comment"}


def test_status_codes_of_firing(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent, requester = api_as(org.agent), api_as(org.requester)
    base = f"{URL}{new_incident.pk}/transitions/"
    # illegal in the current state -> 409 with a message
    res = agent.post(
        base + "resolve/", {"resolution_code": "fixed", "resolution_notes": "x"}, format="json"
    )
    assert res.status_code == 409 and "new" in res.json()["detail"]
    # not allowed for this user -> 403
    res = requester.post(base + "assign/", {"assignee": org.agent.pk}, format="json")
    assert res.status_code == 403 and res.json()["detail"]
    # missing field -> 400 naming it
    res = agent.post(base + "escalate/", {}, format="json")
    assert res.status_code == 400 and "reason" in res.json()["fields"]
    # unknown transition -> 404
    assert agent.post(base + "teleport/", {}, format="json").status_code == 404
    # bad field value -> 400 naming it
    res = agent.post(base + "assign/", {"assignee": 987654}, format="json")
    assert res.status_code == 400 and "assignee" in res.json()["fields"]
    # a domain validation (assignee not in the team) -> 400 naming it
    res = agent.post(
        base + "assign/", {"team": org.desk.pk, "assignee": org.developer.pk}, format="json"
    )
    assert res.status_code == 400 and "assignee" in res.json()["fields"]


def test_full_lifecycle_through_the_api(org) -> None:  # type: ignore[no-untyped-def]
    """Done-when 3: requester raises, agent assigns/starts/escalates to 2 and 3, developer
    resolves, requester reopens then closes; every step is in /history/."""
    requester, agent = api_as(org.requester), api_as(org.agent)
    support2, developer = api_as(org.support2), api_as(org.developer)
    inc = requester.post(
        URL,
        {
            "title": "Payroll run fails",
            "service": org.service.pk,
            "impact": "high",
            "urgency": "medium",
        },
        format="json",
    ).json()
    assert inc["priority"] == 2
    t = f"{URL}{inc['id']}/transitions/"

    def fire(client, name, body=None, expect=200):  # type: ignore[no-untyped-def]
        res = client.post(t + f"{name}/", body or {}, format="json")
        assert res.status_code == expect, (name, res.content)
        return res.json()

    assert fire(agent, "assign", {"assignee": org.agent.pk})["assignee"]["username"] == "agent"
    assert fire(agent, "start")["status"] == "in_progress"
    after = fire(agent, "escalate", {"reason": "Needs application support"})
    assert (after["tier"], after["team"]["name"], after["status"]) == (2, "App Support", "assigned")
    fire(support2, "start")
    after = fire(support2, "escalate", {"reason": "A defect in payroll"})
    assert (after["tier"], after["team"]["name"]) == (3, "Payroll Dev")
    fire(developer, "start")
    after = fire(
        developer,
        "resolve",
        {"resolution_code": "fixed", "resolution_notes": "Patched the tax table."},
    )
    assert after["status"] == "resolved"
    assert fire(requester, "reopen", {"reason": "Still fails for me"})["status"] == "in_progress"
    fire(developer, "resolve", {"resolution_code": "fixed", "resolution_notes": "Really fixed."})
    assert fire(requester, "close", {"comment": "Confirmed"})["status"] == "closed"
    assert fire(requester, "reopen", {"reason": "again"}, expect=409)["detail"]

    history = agent.get(f"{URL}{inc['id']}/history/").json()["results"]
    steps = [(h["action"], h["from_state"], h["to_state"]) for h in history]
    assert steps == [
        ("created", "", "new"),
        ("assign", "new", "assigned"),
        ("start", "assigned", "in_progress"),
        ("escalate", "in_progress", "assigned"),
        ("start", "assigned", "in_progress"),
        ("escalate", "in_progress", "assigned"),
        ("start", "assigned", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("reopen", "resolved", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("close", "resolved", "closed"),
    ]
    assert history[3]["actor"]["username"] == "agent"
    assert history[3]["comment"] == "Needs application support"
    # The requester's history is what their page shows (issue 10 #1): no escalations.
    mine = requester.get(f"{URL}{inc['id']}/history/").json()["results"]
    assert [h["action"] for h in mine if h["action"] in ("assign", "escalate")] == []


def test_patch_editable_fields_and_priority(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent = api_as(org.agent)
    res = agent.patch(f"{URL}{new_incident.pk}/", {"urgency": "high"}, format="json")
    assert res.status_code == 200 and res.json()["priority"] == 1
    res = agent.patch(f"{URL}{new_incident.pk}/", {"impact": "enormous"}, format="json")
    assert res.status_code == 400 and "impact" in res.json()["fields"]
    res = api_as(org.requester).patch(f"{URL}{new_incident.pk}/", {"title": "x"}, format="json")
    assert res.status_code == 403
    # only partial updates: the lifecycle fields are not the client's to replace
    assert agent.put(f"{URL}{new_incident.pk}/", {"title": "y"}, format="json").status_code == 405


def test_comments_visibility(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent, requester = api_as(org.agent), api_as(org.requester)
    c = f"{URL}{new_incident.pk}/comments/"
    assert agent.post(c, {"body": "Looking into it"}, format="json").status_code == 201
    assert agent.post(c, {"body": "internal", "public": False}, format="json").status_code == 201
    assert requester.post(c, {"body": "thanks"}, format="json").status_code == 201
    assert requester.post(c, {"body": "x", "public": False}, format="json").status_code == 403
    assert requester.post(c, {"body": ""}, format="json").status_code == 400
    seen_by_requester = [x["body"] for x in requester.get(c).json()["results"]]
    assert seen_by_requester == ["Looking into it", "thanks"]
    assert len(agent.get(c).json()["results"]) == 3


def test_filters_search_ordering(org) -> None:  # type: ignore[no-untyped-def]
    a = services.incident_create(
        actor=org.requester,
        service=org.service,
        title="Alpha broken",
        impact="high",
        urgency="high",
    )
    b = services.incident_create(
        actor=org.requester2, service=org.service, title="Beta slow", impact="low", urgency="low"
    )
    drive(b, org, "in_progress")
    agent = api_as(org.agent)

    def keys(query: str) -> list[str]:
        return [x["key"] for x in agent.get(URL + query).json()["results"]]

    assert keys("?priority=1") == [a.key]
    assert keys("?status=in_progress") == [b.key]
    assert keys("?status=new&status=in_progress&ordering=priority") == [a.key, b.key]
    assert keys(f"?requester={org.requester2.pk}") == [b.key]
    assert keys(f"?assignee={org.agent.pk}") == [b.key]
    assert keys(f"?team={org.desk.pk}&tier=1&service={org.service.pk}&ordering=-priority") == [
        b.key,
        a.key,
    ]
    assert keys("?q=alpha") == [a.key]
    assert keys(f"?q={b.key}") == [b.key]
    assert agent.get(URL + "?status=nonsense").status_code == 400


def test_pagination_is_stable_with_equal_sort_keys(org) -> None:  # type: ignore[no-untyped-def]
    made = [
        services.incident_create(actor=org.requester, service=org.service, title=f"n{i}")
        for i in range(7)
    ]
    agent = api_as(org.agent)
    seen = []
    for page in (1, 2, 3):
        seen += [
            x["id"]
            for x in agent.get(f"{URL}?ordering=priority&page_size=3&page={page}").json()["results"]
        ]
    assert sorted(seen) == sorted(i.pk for i in made)
    assert len(seen) == len(set(seen))


def test_list_query_count_does_not_grow_with_page_size(org) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        services.incident_create(actor=org.requester, service=org.service, title=f"i{i}")
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=org.agent).key}")
    agent.get(URL)  # warm-up: the process reads the SLA policies once (core.refcache)
    with CaptureQueriesContext(connection) as small:
        assert agent.get(URL + "?page_size=1").status_code == 200
    for i in range(10):
        services.incident_create(actor=org.requester, service=org.service, title=f"j{i}")
    with CaptureQueriesContext(connection) as large:
        assert len(agent.get(URL + "?page_size=50").json()["results"]) == 13
    # token+user, roles, count, page, clocks, their calendars' periods and holidays, defects,
    # hypercare routes (issue 11 #3)
    assert len(large.captured_queries) == len(small.captured_queries) <= 9


def test_services_for_all_teams_for_staff_write_for_admin(org) -> None:  # type: ignore[no-untyped-def]
    requester, admin = api_as(org.requester), api_as(org.admin)
    assert requester.get("/api/v1/services/").json()["count"] == 1
    assert requester.get("/api/v1/teams/").status_code == 403  # issue 10 #1
    assert api_as(org.agent).get("/api/v1/teams/").json()["count"] == 4
    assert requester.post("/api/v1/services/", {"name": "CRM"}, format="json").status_code == 403
    assert (
        api_as(org.agent)
        .post("/api/v1/teams/", {"name": "T", "tier": 2}, format="json")
        .status_code
        == 403
    )
    res = admin.post(
        "/api/v1/services/",
        {"name": "CRM", "support_team": org.support.pk, "development_team": org.dev.pk},
        format="json",
    )
    assert res.status_code == 201, res.content
    res = admin.post(
        "/api/v1/services/", {"name": "ERP", "support_team": org.dev.pk}, format="json"
    )
    assert res.status_code == 400 and "support_team" in res.json()["fields"]
    res = admin.post(
        "/api/v1/teams/",
        {"name": "Night Desk", "tier": 1, "members": [org.agent.pk]},
        format="json",
    )
    assert res.status_code == 201


def test_schema_and_docs(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/incidents/{id}/transitions/{name}/" in paths
    assert "/api/v1/incidents/{id}/history/" in paths
    assert client.get("/api/v1/docs/").status_code == 200


def test_users_directory_for_staff_and_me(org) -> None:  # type: ignore[no-untyped-def]
    staff = api_as(org.agent).get("/api/v1/users/?search=change").json()["results"]
    assert [u["username"] for u in staff] == ["change_manager"]
    assert staff[0]["roles"] == ["Change Manager"]
    assert api_as(org.requester).get("/api/v1/users/").json()["count"] == 1
    me = api_as(org.agent).get("/api/v1/users/me/").json()
    assert me["username"] == "agent" and me["teams"] == ["Service Desk"]
