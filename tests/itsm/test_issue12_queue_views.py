"""Issue 12, queues: the desk's filters (page and API alike), search by requester, chosen
columns, saved views (personal and team, counts, who may change them), and the live
queue's poll (204 while nothing visible changed)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AuditEvent
from core.roles import Role
from itsm import services
from itsm.models import Incident, SavedView
from itsm.services import saved_views as sv
from itsm.services.counts import incident_sla_marks_rebuild
from sla.models import SlaClock
from tests.conftest import api_as, drive
from tests.factories import UserFactory


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _raise(org, title: str, requester=None, **kw) -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=requester or org.requester, service=org.service, title=title, **kw
    )


def _page_keys(res) -> set[str]:  # type: ignore[no-untyped-def]
    return set(re.findall(r'<tr data-key="([A-Z]+-\d+)"', res.content.decode()))


def _api_keys(res) -> set[str]:  # type: ignore[no-untyped-def]
    assert res.status_code == 200, res.content
    return {row["key"] for row in res.json()["results"]}


def _both(org, query: str) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    """The keys the desk page (queue: all) and the API list for the same filter."""
    page = client_for(org.agent).get(f"/desk/?queue=all&{query}")
    assert page.status_code == 200
    return _page_keys(page), _api_keys(api_as(org.agent).get(f"/api/v1/incidents/?{query}"))


@pytest.fixture
def trio(org):  # type: ignore[no-untyped-def]
    """a: held by the agent; b: a major incident of requester2 (Rita Ng); c: untouched."""
    org.requester2.first_name, org.requester2.last_name = "Rita", "Ng"
    org.requester2.email = "rita.ng@example.org"
    org.requester2.save()
    a = drive(_raise(org, "Printer jam"), org, "in_progress")
    b = services.incident_create(
        actor=org.agent,
        requester=org.requester2,
        service=org.service,
        title="Payroll down",
        major_incident=True,
    )
    c = _raise(org, "Password reset")
    return a, b, c


def test_filter_by_assignee_and_unassigned(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    assert _both(org, f"assignee={org.agent.pk}") == ({a.key}, {a.key})
    assert _api_keys(api_as(org.agent).get("/api/v1/incidents/?unassigned=true")) == {
        b.key,
        c.key,
    }


def test_filter_by_team(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    Incident.objects.filter(pk=c.pk).update(team=org.support)
    assert _both(org, f"team={org.support.pk}") == ({c.key}, {c.key})
    page = client_for(org.agent).get("/desk/?queue=all").content.decode()
    assert 'name="team"' in page and '<option value="">Anyone</option>' in page


def test_filter_by_requester_id_and_search_by_name_and_email(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    api = api_as(org.agent)
    assert _api_keys(api.get(f"/api/v1/incidents/?requester={org.requester2.pk}")) == {b.key}
    assert _both(org, "requester_search=rita+ng") == ({b.key}, {b.key})
    assert _both(org, "requester_search=RITA.NG@EXAMPLE") == ({b.key}, {b.key})
    # The general search finds the requester too (by e-mail here).
    assert _both(org, "q=rita.ng@example.org") == ({b.key}, {b.key})


def test_filter_major_incident(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    assert _both(org, "major_incident=true") == ({b.key}, {b.key})
    assert _both(org, "major_incident=false") == ({a.key, c.key}, {a.key, c.key})


def test_filter_breached_and_at_risk(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    now = timezone.now()
    SlaClock.objects.filter(object_id=a.pk, target="resolution").update(breached=True)
    SlaClock.objects.filter(object_id=b.pk, target="resolution").update(
        fired=75, due_at=now + timedelta(hours=2)
    )
    # c's clocks: due far ahead, no warning: neither.
    SlaClock.objects.filter(object_id=c.pk).update(due_at=now + timedelta(days=3), fired=0)
    # the clocks changed behind the engine's back: what the incidents keep of them for the
    # filters, rebuilt as after a bulk load (tests/sla/test_sla_marks.py drives the engine)
    incident_sla_marks_rebuild()
    assert _both(org, "sla=breached") == ({a.key}, {a.key})
    assert _both(org, "sla=at_risk") == ({b.key}, {b.key})
    # Overdue but not swept yet is breached already, not at risk.
    SlaClock.objects.filter(object_id=b.pk, target="resolution").update(
        due_at=now - timedelta(minutes=1)
    )
    incident_sla_marks_rebuild()
    assert _both(org, "sla=breached") == ({a.key, b.key}, {a.key, b.key})
    assert _both(org, "sla=at_risk") == (set(), set())


def test_filter_age_and_last_update(org) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = _raise(org, "Old one")
    with time_machine.travel(start + timedelta(days=5), tick=False):
        young = _raise(org, "Young one")
    with time_machine.travel(start + timedelta(days=6), tick=False):
        assert _both(org, "older_than_days=3") == ({old.key}, {old.key})
        assert _both(org, "older_than_days=0") == ({old.key, young.key}, {old.key, young.key})
        Incident.objects.filter(pk=old.pk).update(updated_at=start + timedelta(days=5, hours=23))
        # old was touched an hour ago, young a day ago.
        assert _both(org, "idle_hours=12") == ({young.key}, {young.key})


@pytest.mark.parametrize("query", ["older_than_days=-1", "idle_hours=abc", "sla=soon"])
def test_bad_filter_values_are_a_400_on_the_api_and_named_on_the_page(org, query) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).get(f"/api/v1/incidents/?{query}")
    assert res.status_code == 400
    page = client_for(org.agent).get(f"/desk/?queue=all&{query}")
    assert page.status_code == 200 and b'class="errorlist"' in page.content


def test_schema_documents_the_new_filters(org) -> None:  # type: ignore[no-untyped-def]
    schema = api_as(org.agent).get("/api/v1/schema/?format=json")
    params = {p["name"] for p in schema.json()["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert {"requester_search", "sla", "older_than_days", "idle_hours", "unassigned"} <= params


# --- columns ------------------------------------------------------------------------------
def _headers(res) -> list[str]:  # type: ignore[no-untyped-def]
    head = re.search(r"<thead>(.*?)</thead>", res.content.decode(), re.S)
    assert head, "no table"
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th>(.*?)</th>", head[1])]


def test_default_columns_include_age_and_last_update(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    res = client_for(org.agent).get("/desk/?queue=all")
    heads = _headers(res)
    assert "Age" in heads and "Last update" in heads and "Service" in heads
    assert "Requester" not in heads


def test_columns_chosen_in_the_url(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    res = c.get("/desk/?queue=all&cols=title&cols=requester&cols=updated")
    assert _headers(res) == ["Key", "Title", "Requester", "Last update"]
    assert c.get("/desk/?queue=all&cols=salary").status_code == 400


# --- saved views --------------------------------------------------------------------------
@pytest.fixture
def desk_mate(org):  # type: ignore[no-untyped-def]
    mate = UserFactory(username="mate", roles=[Role.SERVICE_DESK_AGENT])
    org.desk.members.add(mate)
    return mate


def test_personal_view_is_seen_by_its_owner_only(org, desk_mate) -> None:  # type: ignore[no-untyped-def]
    view = sv.saved_view_create(actor=org.agent, name="P1s", query={"priority": ["1"]})
    assert view.team is None
    assert [v["name"] for v in api_as(org.agent).get("/api/v1/saved-views/").json()["results"]] == [
        "P1s"
    ]
    assert api_as(desk_mate).get("/api/v1/saved-views/").json()["results"] == []
    assert api_as(desk_mate).get(f"/api/v1/saved-views/{view.pk}/").status_code == 404
    assert client_for(desk_mate).get(f"/desk/?view={view.pk}").status_code == 404
    assert b"P1s" in client_for(org.agent).get("/desk/?queue=all").content


def test_team_view_is_seen_by_the_team_and_changed_by_owner_or_administrator(  # type: ignore[no-untyped-def]
    org, desk_mate
) -> None:
    res = api_as(org.agent).post(
        "/api/v1/saved-views/",
        {"name": "Desk P1/P2", "team": org.desk.pk, "query": {"priority": ["1", "2"]}},
        format="json",
    )
    assert res.status_code == 201, res.content
    pk = res.json()["id"]
    assert res.json()["team"]["id"] == org.desk.pk and res.json()["editable"] is True
    mate = api_as(desk_mate)
    listed = mate.get("/api/v1/saved-views/").json()["results"]
    assert [(v["name"], v["editable"]) for v in listed] == [("Desk P1/P2", False)]
    assert api_as(org.agent_other).get(f"/api/v1/saved-views/{pk}/").status_code == 404
    assert (
        mate.patch(f"/api/v1/saved-views/{pk}/", {"name": "Mine"}, format="json").status_code == 403
    )
    assert mate.delete(f"/api/v1/saved-views/{pk}/").status_code == 403
    admin = api_as(org.admin)
    res = admin.patch(f"/api/v1/saved-views/{pk}/", {"name": "Desk urgent"}, format="json")
    assert res.status_code == 200 and res.json()["name"] == "Desk urgent"
    assert api_as(org.agent).delete(f"/api/v1/saved-views/{pk}/").status_code == 204
    actions = list(
        AuditEvent.objects.filter(content_type__model="savedview", object_id=pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["created", "updated", "deleted"]
    assert not SavedView.objects.exists()


def test_sharing_with_a_team_one_is_not_in_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post(
        "/api/v1/saved-views/", {"name": "x", "team": org.support.pk}, format="json"
    )
    assert res.status_code == 403 and "team" in res.json()["fields"]
    # An Administrator looks after every team's views.
    res = api_as(org.admin).post(
        "/api/v1/saved-views/", {"name": "x", "team": org.support.pk}, format="json"
    )
    assert res.status_code == 201


def test_a_requester_saves_no_desk_views(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.requester).post("/api/v1/saved-views/", {"name": "x"}, format="json")
    assert res.status_code == 403
    assert not SavedView.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "v", "query": {"salary": ["1"]}}, "query"),
        ({"name": "v", "query": {"priority": ["9"]}}, "query.priority"),
        ({"name": "v", "query": {"queue": ["team-99999"]}}, "query"),
        ({"name": "v", "query": {"older_than_days": ["-2"]}}, "query.older_than_days"),
        ({"name": "v", "query": ["priority"]}, "query"),
        ({"name": "v", "columns": ["salary"]}, "columns"),
        ({"name": "v", "team": 99999}, "team"),
    ],
)
def test_bad_view_input_is_a_400_naming_the_field(org, body, field) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post("/api/v1/saved-views/", body, format="json")
    assert res.status_code == 400, res.content
    body = res.json()
    assert field in body["fields"], body
    assert not SavedView.objects.exists()


def test_names_are_unique_per_owner(org) -> None:  # type: ignore[no-untyped-def]
    sv.saved_view_create(actor=org.agent, name="Mine", query={})
    res = api_as(org.agent).post("/api/v1/saved-views/", {"name": "mine"}, format="json")
    assert res.status_code == 400 and "name" in res.json()["fields"]
    assert SavedView.objects.count() == 1
    # Another agent may use the same name.
    assert (
        api_as(org.agent_other)
        .post("/api/v1/saved-views/", {"name": "Mine"}, format="json")
        .status_code
        == 201
    )


def test_sidebar_lists_views_with_the_count_of_their_filter(org, desk_mate, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    sv.saved_view_create(
        actor=org.agent, name="Major", query={"queue": ["all"], "major_incident": ["true"]}
    )
    sv.saved_view_create(
        actor=desk_mate,
        name="Unheld",
        query={"queue": ["all"], "unassigned": ["true"]},
        team=org.desk,
    )
    res = client_for(org.agent).get("/desk/?queue=all")
    views = res.context["views"]
    assert [(e["view"].name, e["count"]) for e in views["mine"]] == [("Major", "1")]
    assert [(e["view"].name, e["count"]) for e in views["team"]] == [("Unheld", "2")]
    assert 'data-views="team"' in res.content.decode()


def test_opening_a_view_applies_its_query_and_columns(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    view = sv.saved_view_create(
        actor=org.agent,
        name="Major",
        query={"queue": ["all"], "major_incident": ["true"]},
        columns=["title", "age"],
    )
    entry_href = f"?{sv.view_querystring(view)}&view={view.pk}"
    res = client_for(org.agent).get(f"/desk/{entry_href}")
    assert _page_keys(res) == {b.key}
    assert _headers(res) == ["Key", "Title", "Age"]
    assert entry_href.replace("&", "&amp;") in res.content.decode()  # the sidebar link


def test_save_update_and_delete_from_the_desk(org, trio) -> None:  # type: ignore[no-untyped-def]
    a, b, c = trio
    c_ = client_for(org.agent)
    res = c_.post(
        "/desk/",
        {"name": "Majors", "query": "queue=all&major_incident=true&page=3", "cols": ["title"]},
    )
    view = SavedView.objects.get()
    assert res.status_code == 302 and res["Location"].endswith(f"&view={view.pk}")
    assert view.query == {"queue": ["all"], "major_incident": ["true"]}  # not the page
    assert view.columns == ["title"]
    page = c_.get(res["Location"])
    assert "Update “Majors”" in page.content.decode()
    res = c_.post(
        f"/desk/views/{view.pk}/",
        {"op": "update", "query": "queue=all&priority=3", "cols": ["title", "updated"]},
    )
    view.refresh_from_db()
    assert res.status_code == 302 and view.query == {"queue": ["all"], "priority": ["3"]}
    assert view.columns == ["title", "updated"]
    assert c_.post(f"/desk/views/{view.pk}/", {"op": "delete"}).status_code == 302
    assert not SavedView.objects.exists()


def test_a_refused_save_keeps_the_desk_and_the_name_and_says_why(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    sv.saved_view_create(actor=org.agent, name="Majors", query={})
    res = client_for(org.agent).post(
        "/desk/", {"name": "Majors", "query": "queue=all&priority=2", "cols": ["title"]}
    )
    assert res.status_code == 400
    body = res.content.decode()
    assert "already have a view named" in body and 'value="Majors"' in body
    assert f'data-key="{new_incident.key}"' in body  # the desk, filtered as it was
    assert _headers(res) == ["Key", "Title"]  # with the columns it had
    # Its live poll asks the desk, not the address of the refused POST.
    assert 'data-poll="/desk/?queue=all&amp;priority=2' in body
    assert SavedView.objects.count() == 1


def test_another_agents_view_cannot_be_changed_from_the_desk(org, desk_mate) -> None:  # type: ignore[no-untyped-def]
    view = sv.saved_view_create(actor=desk_mate, name="Team", query={}, team=org.desk)
    res = client_for(org.agent).post(f"/desk/views/{view.pk}/", {"op": "delete"})
    assert res.status_code == 403 and SavedView.objects.filter(pk=view.pk).exists()
    page = client_for(org.agent).get(f"/desk/?view={view.pk}")
    assert "Delete view" not in page.content.decode()  # not offered either


# --- the live queue -----------------------------------------------------------------------
def _token(res) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'id="queue-rows" data-token="(\w+)"', res.content.decode())[1]


def test_poll_is_204_until_the_visible_rows_change(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    url = f"/desk/?queue=team-{org.desk.pk}"
    token = _token(c.get(url, HTTP_HX_REQUEST="true"))
    assert c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true").status_code == 204
    p1 = _raise(org, "Everything is down", impact="high", urgency="high")
    res = c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true")
    assert res.status_code == 200
    assert f'data-key="{p1.key}" data-priority="1"' in res.content.decode()
    assert 'id="desk-sidebar"' in res.content.decode()  # counts refresh with the rows
    token = _token(res)
    assert c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true").status_code == 204
    # A change to a row shown (not a new one) is news as well.
    services.incident_update(incident=new_incident, actor=org.agent, title="Tax code wrong")
    assert c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true").status_code == 200


def test_a_reply_is_news_in_the_live_queue_and_its_last_update(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """A requester's reply moves the ticket's last update (as in JSM): the open queue's
    poll sees the row changed, and the "not updated for" filter no longer holds it."""
    c = client_for(org.agent)
    url = f"/desk/?queue=team-{org.desk.pk}"
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        token = _token(c.get(url, HTTP_HX_REQUEST="true"))
        assert new_incident.key in c.get(f"{url}&idle_hours=4").content.decode()
        services.incident_comment(
            incident=new_incident, actor=org.requester, body="It happens again."
        )
        assert c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true").status_code == 200
        assert new_incident.key not in c.get(f"{url}&idle_hours=4").content.decode()


def test_poll_of_a_quiet_queue_is_cheap(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    url = f"/desk/?queue=team-{org.desk.pk}"
    token = _token(c.get(url, HTTP_HX_REQUEST="true"))
    for n in range(10):
        _raise(org, f"More {n}")
    token = _token(c.get(url, HTTP_HX_REQUEST="true"))
    with CaptureQueriesContext(connection) as ctx:
        assert c.get(f"{url}&poll={token}", HTTP_HX_REQUEST="true").status_code == 204
    # session + user + roles + teams + the page's ids: nothing per row, no counts.
    assert len(ctx) <= 7, [q["sql"] for q in ctx.captured_queries]


def _desk_queries(c: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert c.get(url).status_code == 200
    return len(ctx)


def test_desk_query_count_with_views_does_not_grow_with_rows(org, desk_mate) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        sv.saved_view_create(actor=org.agent, name=f"Mine {n}", query={"priority": ["3"]})
    sv.saved_view_create(actor=desk_mate, name="Team", query={"queue": ["all"]}, team=org.desk)
    c = client_for(org.agent)
    url = f"/desk/?queue=team-{org.desk.pk}&cols=title&cols=sla&cols=assignee&cols=age"
    for n in range(3):
        _raise(org, f"First {n}")
    _desk_queries(c, url)  # warm-up: the process reads the SLA policies once (core.refcache)
    few = _desk_queries(c, url)
    for n in range(12):
        _raise(org, f"Then {n}")
    assert _desk_queries(c, url) == few
    # Each view costs its one count, no more: a fifth view adds one query.
    sv.saved_view_create(actor=org.agent, name="Mine 4", query={"priority": ["3"]})
    assert _desk_queries(c, url) == few + 1


def test_sidebar_lists_at_most_twenty_views_of_each_kind(org) -> None:  # type: ignore[no-untyped-def]
    for n in range(23):
        sv.saved_view_create(actor=org.agent, name=f"V{n:02}", query={})
    res = client_for(org.agent).get("/desk/?queue=all")
    assert len(res.context["views"]["mine"]) == 20


def _api_queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_saved_views_api_list_query_count_does_not_grow(org, desk_mate) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.agent)
    sv.saved_view_create(actor=org.agent, name="a", query={})
    sv.saved_view_create(actor=desk_mate, name="b", query={}, team=org.desk)
    _api_queries(api, "/api/v1/saved-views/")  # warm: the forced user keeps its roles
    few = _api_queries(api, "/api/v1/saved-views/")
    for n in range(4):
        sv.saved_view_create(actor=org.agent, name=f"m{n}", query={})
        sv.saved_view_create(actor=desk_mate, name=f"t{n}", query={}, team=org.desk)
    assert _api_queries(api, "/api/v1/saved-views/") == few


def test_rows_polled_in_come_back_to_the_desk_not_the_poll(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    url = f"/desk/?queue=team-{org.desk.pk}"
    res = c.get(f"{url}&poll=stale", HTTP_HX_REQUEST="true")
    back = re.search(r'name="next" value="([^"]+)"', res.content.decode())[1]
    assert "poll" not in back and back.startswith("/desk/?")


@pytest.mark.parametrize("team", [999_999, 2**70])
def test_saved_view_shared_with_no_such_team_is_a_400(org, team) -> None:  # type: ignore[no-untyped-def]
    """An id no team has (one past bigint too) is named in a 400, never a driver error."""
    res = api_as(org.agent).post(
        "/api/v1/saved-views/",
        {"name": "Mine", "query": {"queue": ["all"]}, "team": team},
        format="json",
    )
    assert res.status_code == 400 and f"No team {team}" in str(res.json())
    assert not SavedView.objects.exists()
