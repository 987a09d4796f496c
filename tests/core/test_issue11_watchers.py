"""Issue 11: watchers on every record type — services, who is told, panel, API."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.models import AuditEvent, OutboxMessage
from core.roles import Role
from core.watchers import watch_add, watch_remove, watchers_of
from itsm import services
from projects.models import Project
from projects.services import work_comment, work_item_create, work_item_update, work_start
from tests.conftest import api_as
from tests.factories import UserFactory


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p


@pytest.fixture
def item(org, project):  # type: ignore[no-untyped-def]
    return work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")


def watching(record) -> list[str]:  # type: ignore[no-untyped-def]
    return [w.user.username for w in watchers_of(record)]


def sent(event: str) -> list[list[str]]:
    return [m.recipients for m in OutboxMessage.objects.filter(event=event)]


# --- services ------------------------------------------------------------------------------
def test_anyone_watches_what_they_may_see_audited(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=new_incident, user=org.requester, actor=org.requester)
    watch_add(record=new_incident, user=org.requester, actor=org.requester)  # no change
    assert watching(new_incident) == ["requester"]
    row = AuditEvent.objects.filter(action="watcher_added").get()
    assert row.actor == org.requester and row.changes == {"watchers": [None, "requester"]}
    with pytest.raises(NotFound):  # another requester's incident
        watch_add(record=new_incident, user=org.requester2, actor=org.requester2)
    watch_remove(record=new_incident, user=org.requester, actor=org.requester)
    assert watching(new_incident) == []
    assert AuditEvent.objects.filter(action="watcher_removed").count() == 1
    with pytest.raises(NotFound):
        watch_remove(record=new_incident, user=org.requester, actor=org.requester)


def test_staff_who_work_it_add_a_colleague_who_may_see_it(org, item) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=item, user=org.support2, actor=org.developer)
    assert "support2" in watching(item)
    with pytest.raises(ValidationFailed):  # a requester never sees work items
        watch_add(record=item, user=org.requester, actor=org.developer)
    with pytest.raises(ActionForbidden):  # staff not working it add only themselves
        watch_add(record=item, user=org.agent_other, actor=org.agent)
    with pytest.raises(ActionForbidden):
        watch_remove(record=item, user=org.support2, actor=org.agent)
    watch_remove(record=item, user=org.support2, actor=org.developer)


def test_reporter_assignee_and_comment_author_watch_automatically(org, item, project) -> None:  # type: ignore[no-untyped-def]
    dev2 = UserFactory(username="dev2", roles=[Role.DEVELOPER])
    org.dev.members.add(dev2)
    assert watching(item) == ["developer"]  # the reporter
    work_item_update(item=item, actor=org.developer, assignee=dev2)
    work_comment(item=item, actor=dev2, body="on it")
    assert sorted(watching(item)) == ["dev2", "developer"]
    assert not AuditEvent.objects.filter(action="watcher_added").exists()  # silent


# --- who is told ---------------------------------------------------------------------------
def test_watchers_are_told_of_comments_not_the_author(org, item) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=item, user=org.support2, actor=org.support2)
    work_comment(item=item, actor=org.developer, body="found it")
    assert sent("work_item.commented") == [[org.support2.email]]
    msg = OutboxMessage.objects.get(event="work_item.commented")
    assert msg.subject == f"[{item.key}] {org.developer} added an internal note: Tax"
    assert "found it" in msg.body
    work_comment(item=item, actor=org.developer, body="and fixed it")  # a new transaction
    assert len(sent("work_item.commented")) == 2


def test_internal_notes_reach_only_watchers_who_read_them(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    watch_add(record=new_incident, user=org.requester, actor=org.requester)
    watch_add(record=new_incident, user=org.support2, actor=org.agent)
    services.incident_comment(incident=new_incident, actor=org.agent, body="hm", public=False)
    assert sent("incident.commented") == [[org.support2.email]]


def test_a_mentioned_watcher_is_told_once(org, item) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=item, user=org.support2, actor=org.support2)
    work_comment(item=item, actor=org.developer, body="@support2 look")
    assert sent("work_item.mentioned") == [[org.support2.email]]
    assert sent("work_item.commented") == []


def test_a_watcher_e_mailed_by_the_service_is_not_told_twice(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    # The requester watches (they replied); a public reply by staff e-mails them itself
    # ("incident.reply"), written after the watchers' notice: the notice gives way.
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    services.incident_comment(incident=new_incident, actor=org.requester, body="any news?")
    assert "requester" in watching(new_incident)
    OutboxMessage.objects.all().delete()
    services.incident_comment(incident=new_incident, actor=org.agent, body="restart it")
    assert sent("incident.reply") == [[org.requester.email]]
    assert sent("incident.commented") == []


def test_state_changes_tell_watchers_who_may_see_the_step(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=new_incident, user=org.requester, actor=org.requester)
    watch_add(record=new_incident, user=org.incident_manager, actor=org.incident_manager)
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    # The requester's timeline does not show the assignment; the agent is e-mailed
    # "assigned to you" by the service (and is the actor): only the manager is told.
    assert sent("incident.status_changed") == [[org.incident_manager.email]]
    msg = OutboxMessage.objects.get(event="incident.status_changed")
    assert "New" in msg.subject and "Assigned" in msg.subject
    services.incident_start(incident=new_incident, actor=org.agent)
    told = sent("incident.status_changed")
    assert [org.requester.email] in told and len(told) == 3


def test_work_item_watchers_hear_of_its_moves_but_not_the_mover(org, item, project) -> None:  # type: ignore[no-untyped-def]
    dev2 = UserFactory(username="dev2", roles=[Role.DEVELOPER])
    org.dev.members.add(dev2)
    watch_add(record=item, user=dev2, actor=dev2)
    from projects.services import work_triage

    work_triage(item=item, actor=org.developer)
    assert sent("work_item.status_changed") == [[dev2.email]]
    work_start(item=item, actor=dev2)  # the actor is not told; the reporter is
    assert sent("work_item.status_changed") == [[dev2.email], [org.developer.email]]


# --- panel ---------------------------------------------------------------------------------
def test_panel_on_staff_pages_and_requesters_see_no_staff_watchers(org, new_incident, item) -> None:  # type: ignore[no-untyped-def]
    watch_add(record=new_incident, user=org.agent, actor=org.agent)
    client = Client()
    client.force_login(org.agent)
    html = client.get(new_incident.get_absolute_url()).content.decode()
    assert 'id="watchers"' in html and "Stop watching" in html and "Add watcher" in html
    client.force_login(org.requester)
    html = client.get(new_incident.get_absolute_url()).content.decode()
    assert 'id="watchers"' in html and ">Watch<" in html
    assert str(org.agent) not in html.split('id="watchers"')[1].split("</section>")[0]
    assert "Add watcher" not in html
    client.force_login(org.agent_other)  # staff who may see it but not work it
    html = client.get(item.get_absolute_url()).content.decode()
    assert 'id="watchers"' in html and "Add watcher" not in html


def test_panel_buttons_post_and_come_back(org, item) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.support2)
    url = f"/watchers/projects.workitem/{item.pk}/"
    res = client.post(url, {"next": item.get_absolute_url()})
    assert res.status_code == 302 and "support2" in watching(item)
    res = client.post(url + "remove/", {"next": item.get_absolute_url()})
    assert res.status_code == 302 and "support2" not in watching(item)
    client.force_login(org.developer)
    res = client.post(url, {"username": "support2"})
    assert res.status_code == 302 and "support2" in watching(item)
    res = client.post(url, {"username": "requester"})
    assert res.status_code == 400 and "may not see" in res.content.decode()
    client.force_login(org.agent_other)
    assert client.post(url, {"username": "agent"}).status_code == 403


def test_pages_show_the_panel(org, new_incident, item) -> None:  # type: ignore[no-untyped-def]
    from itsm.models import CatalogItem
    from itsm.services.changes import change_create
    from itsm.services.problems import problem_create
    from itsm.services.requests import request_submit

    problem = problem_create(actor=org.problem_manager, service=org.service, title="Rounding")
    change = change_create(actor=org.change_manager, title="Patch", services=[org.service])
    catalog = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    req = request_submit(actor=org.requester, item=catalog, answers={})
    client = Client()
    client.force_login(org.admin)
    for record in (new_incident, problem, change, req, item):
        page = client.get(record.get_absolute_url())
        assert page.status_code == 200, record
        assert 'id="watchers"' in page.content.decode(), record


# --- API -----------------------------------------------------------------------------------
def test_api_lists_adds_and_removes_watchers(org, new_incident, item) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.developer)
    url = f"/api/v1/defects/{item.key}/watchers/"
    res = api.get(url)
    assert res.status_code == 200 and [w["user"]["username"] for w in res.json()] == ["developer"]
    res = api.post(url, {"user": org.support2.pk}, format="json")
    assert res.status_code == 201 and res.json()["user"]["username"] == "support2"
    assert api.post(url, {"user": org.requester.pk}, format="json").status_code == 400
    assert api.post(url, {"user": 99999}, format="json").status_code == 400
    assert api.delete(f"{url}{org.support2.pk}/").status_code == 204
    assert api.delete(f"{url}{org.support2.pk}/").status_code == 404
    # Without a user: the caller watches.
    assert api_as(org.support2).post(url, {}, format="json").status_code == 201
    assert (
        api_as(org.agent_other).post(url, {"user": org.agent.pk}, format="json").status_code == 403
    )
    # A requester sees whether they watch, never the staff who do.
    inc_url = f"/api/v1/incidents/{new_incident.key}/watchers/"
    watch_add(record=new_incident, user=org.agent, actor=org.agent)
    req = api_as(org.requester)
    assert req.get(inc_url).json() == []
    assert req.post(inc_url, {}, format="json").status_code == 201
    assert [w["user"]["username"] for w in req.get(inc_url).json()] == ["requester"]
    assert api_as(org.requester2).get(inc_url).status_code == 404


def test_api_watchers_on_every_record_type(org, new_incident, item) -> None:  # type: ignore[no-untyped-def]
    from itsm.services.problems import problem_create

    problem = problem_create(actor=org.problem_manager, service=org.service, title="Rounding")
    api = api_as(org.admin)
    for url in (
        f"/api/v1/incidents/{new_incident.key}/watchers/",
        f"/api/v1/problems/{problem.key}/watchers/",
        f"/api/v1/defects/{item.key}/watchers/",
        f"/api/v1/defects/{item.key}/watchers/",
    ):
        assert api.get(url).status_code == 200, url


def test_schema_documents_watchers(db) -> None:  # type: ignore[no-untyped-def]
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for plural in (
        "incidents",
        "problems",
        "changes",
        "requests",
        "defects",
        "enhancements",
        "articles",
    ):
        assert f"/api/v1/{plural}/{{id}}/watchers/" in paths, plural
        assert f"/api/v1/{plural}/{{id}}/watchers/{{user_id}}/" in paths, plural


def test_admin_lists_watches_read_only(org, item) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    res = client.get("/admin/core/watch/")
    assert res.status_code == 200 and str(org.developer) in res.content.decode()
    assert client.get("/admin/core/watch/add/").status_code == 403
