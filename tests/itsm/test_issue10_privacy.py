"""Issue 10 #1 and #2: what a requester reads (one visibility policy per record type) and
who may reply or write notes on a ticket (those who work it)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden
from core.models import OutboxMessage
from core.roles import Role
from itsm import services
from itsm.models import CatalogItem, CatalogTaskTemplate
from itsm.services import problems as problem_services
from itsm.services import requests as request_services
from knowledge.services import article_create
from projects import services as project_services
from projects.models import Project, Release, WorkItem
from sla.services import clocks_sweep
from tests.conftest import api_as
from tests.factories import UserFactory

SECRET = "AGENT-ONLY"


@pytest.fixture
def leaky_incident(org, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """An incident carrying every kind of internal text: an assignment comment, an
    internal note, escalation reasons, an SLA warning, a linked problem and defect."""
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as frozen:
        inc = services.incident_create(
            actor=org.requester, service=org.service, title="Payslip wrong", impact="high"
        )
        services.incident_assign(
            incident=inc, actor=org.agent, assignee=org.agent, comment=f"{SECRET} assign"
        )
        services.incident_comment(
            incident=inc, actor=org.agent, body=f"{SECRET} internal note", public=False
        )
        services.incident_comment(incident=inc, actor=org.agent, body="We are on it.")
        services.incident_start(incident=inc, actor=org.agent)
        services.incident_escalate(incident=inc, actor=org.agent, reason=f"{SECRET} escalate")
        problem_services.problem_create(
            actor=org.problem_manager,
            title=f"{SECRET} problem title",
            service=org.service,
            incidents=[inc],
        )
        project_services.incident_to_development(
            incident=inc,
            actor=org.support2,
            reason=f"{SECRET} to development",
            title=f"{SECRET} defect title",
        )
        # Most of the resolution target passes: the sweep writes SLA warnings.
        frozen.move_to(start + timedelta(days=3))
        with django_capture_on_commit_callbacks(execute=True):
            clocks_sweep()
    inc.refresh_from_db()
    return inc


def _requester_endpoints(inc, req) -> list[str]:  # type: ignore[no-untyped-def]
    urls = ["/api/v1/incidents/", "/api/v1/requests/"]
    for base, ticket in (("incidents", inc), ("requests", req)):
        for ref in (ticket.pk, ticket.key):
            urls.append(f"/api/v1/{base}/{ref}/")
            for part in ("history", "comments", "sla", "transitions"):
                urls.append(f"/api/v1/{base}/{ref}/{part}/")
    urls += [
        f"/api/v1/requests/{req.pk}/approvals/",
        "/api/v1/users/",
        "/api/v1/users/me/",
        "/api/v1/articles/",
        "/api/v1/approvals/",
        "/api/v1/teams/",
        "/api/v1/services/",
        "/api/v1/catalog-items/",
        "/api/v1/problems/",
        "/api/v1/changes/",
        "/api/v1/defects/",
        "/api/v1/enhancements/",
        "/api/v1/releases/",
        "/api/v1/projects/",
        "/api/v1/reports/sla/",
        "/api/v1/sla-policies/",
        "/api/v1/calendars/",
        "/api/v1/time-entries/",
        "/api/v1/freeze-windows/",
        "/api/v1/change-templates/",
    ]
    return urls


@pytest.fixture
def leaky_request(org):  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    CatalogTaskTemplate.objects.create(item=item, title="Hand over a mouse")
    req = request_services.request_submit(actor=org.requester, item=item, answers={})
    request_services.request_comment(
        request=req, actor=org.support2, body=f"{SECRET} request note", public=False
    )
    return req


def test_requester_token_reads_no_internal_text_through_any_endpoint(
    org, leaky_incident, leaky_request
) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1: a requester's token sees, through every endpoint it can reach, what
    the requester's pages show: no internal note, assignment comment, escalation reason,
    SLA event, linked problem or defect text."""
    client = api_as(org.requester)
    reached = 0
    # Records only staff open: every part answers 404/403 to the requester.
    defect = WorkItem.objects.get()
    release = Release.objects.create(project=defect.project, version="9.9")
    article = article_create(actor=org.agent, title=f"{SECRET} article", body="x")
    staff_only = [
        f"/api/v1/problems/{leaky_incident.problem_id}/",
        f"/api/v1/defects/{defect.pk}/",
        f"/api/v1/releases/{release.pk}/",
        f"/api/v1/articles/{article.pk}/",
    ]
    staff_only += [f"{u}{part}/" for u in staff_only for part in ("history", "comments", "sla")]
    for url in staff_only:
        res = client.get(url)
        assert res.status_code in (403, 404), (url, res.status_code)
        assert SECRET not in res.content.decode()
    for url in _requester_endpoints(leaky_incident, leaky_request):
        res = client.get(url)
        assert res.status_code in (200, 403, 404), (url, res.status_code)
        body = res.content.decode()
        assert SECRET not in body, (url, body)
        assert "sla_warning" not in body and "escalate" not in body, (url, body)
        reached += res.status_code == 200
    assert reached > 20  # the walk really read the requester's own tickets
    # ...and nothing they were e-mailed carries internal text either.
    mails = [m for m in OutboxMessage.objects.all() if org.requester.email in m.recipients]
    assert mails
    assert not [m.subject for m in mails if SECRET in m.subject + m.body]

    # The public parts are there: the reply, the steps, the clocks without their log.
    inc = f"/api/v1/incidents/{leaky_incident.pk}"
    assert [c["body"] for c in client.get(f"{inc}/comments/").json()["results"]] == [
        "We are on it."
    ]
    steps = [h["action"] for h in client.get(f"{inc}/history/").json()["results"]]
    assert steps == ["created", "start"]
    sla = client.get(f"{inc}/sla/").json()
    assert sla and all(c["events"] == [] for c in sla)
    detail = client.get(f"{inc}/").json()
    assert detail["problem"]["key"] is None and detail["defect"]["key"] is None

    # Staff read all of it through the same endpoints.
    staff = api_as(org.agent)
    assert SECRET in staff.get(f"{inc}/history/").content.decode()
    assert SECRET in staff.get(f"{inc}/comments/").content.decode()
    events = [e["kind"] for c in staff.get(f"{inc}/sla/").json() for e in c["events"]]
    assert "warning" in events


def test_requester_page_and_api_show_the_same_timeline(org, leaky_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1: the page timeline and the API history come from one policy."""
    from core.visibility import parts_for

    page = Client()
    page.force_login(org.requester)
    html = page.get(f"/incidents/{leaky_incident.key}/").content.decode()
    assert SECRET not in html and "We are on it." in html
    assert "<summary>Why</summary>" not in html  # the SLA event log is staff's
    page.force_login(org.support2)
    staff_html = page.get(f"/incidents/{leaky_incident.key}/").content.decode()
    assert "<summary>Why</summary>" in staff_html and SECRET in staff_html
    parts = parts_for(org.requester, leaky_incident)
    assert not parts.internal_notes and not parts.sla_events and not parts.linked_records
    api = api_as(org.requester).get(f"/api/v1/incidents/{leaky_incident.pk}/history/").json()
    assert [h["action"] for h in api["results"]] == list(
        parts.history(leaky_incident).values_list("action", flat=True)
    )
    assert all(h["changes"] == {} for h in api["results"])


def test_other_requester_reads_nothing(org, leaky_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1: another requester gets 404 on every part."""
    client = api_as(org.requester2)
    for part in ("", "history/", "comments/", "sla/"):
        assert client.get(f"/api/v1/incidents/{leaky_incident.pk}/{part}").status_code == 404


# --- #2: replies and notes by those who work the ticket --------------------------------------
def test_staff_outside_the_incident_may_not_reply_or_stop_its_clock(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #2: a Project Manager (works no incidents) replying publicly on another
    team's incident: 403, and the response clock keeps running."""
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    services.incident_assign(incident=new_incident, actor=org.agent, team=org.support)
    url = f"/api/v1/incidents/{new_incident.pk}/comments/"
    for outsider in (pm, org.agent_other, org.change_manager):
        for public in (True, False):
            res = api_as(outsider).post(url, {"body": "hi", "public": public}, format="json")
            assert res.status_code == 403, (outsider, public, res.content)
    new_incident.refresh_from_db()
    assert new_incident.responded_at is None
    clock = api_as(org.support2).get(f"/api/v1/incidents/{new_incident.pk}/sla/").json()
    assert {c["target"]: c["state"] for c in clock}["response"] == "running"

    # The team replies: that is the first response.
    assert api_as(org.support2).post(url, {"body": "On it"}, format="json").status_code == 201
    new_incident.refresh_from_db()
    assert new_incident.responded_at is not None
    # The Incident Manager may note; the requester may reply but not note.
    assert (
        api_as(org.incident_manager)
        .post(url, {"body": "watching", "public": False}, format="json")
        .status_code
        == 201
    )
    requester = api_as(org.requester)
    assert requester.post(url, {"body": "thanks"}, format="json").status_code == 201
    assert requester.post(url, {"body": "x", "public": False}, format="json").status_code == 403


def test_incident_page_offers_the_reply_form_only_to_those_who_may(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #2/#3: the reply form is offered exactly when the service would take it."""
    services.incident_assign(incident=new_incident, actor=org.agent, team=org.support)
    page = Client()
    page.force_login(org.agent_other)
    html = page.get(f"/incidents/{new_incident.key}/").content.decode()
    assert "comment-body" not in html
    page.force_login(org.support2)
    html = page.get(f"/incidents/{new_incident.key}/").content.decode()
    assert "comment-body" in html and 'value="internal"' in html
    page.force_login(org.requester)
    html = page.get(f"/incidents/{new_incident.key}/").content.decode()
    assert "comment-body" in html and 'value="internal"' not in html


def test_every_ticket_type_takes_notes_only_from_those_who_work_it(org, leaky_request) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #2: requests, problems, changes and work items follow the same rule."""
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    with pytest.raises(ActionForbidden):
        request_services.request_comment(request=leaky_request, actor=org.agent, body="hi")
    request_services.request_comment(request=leaky_request, actor=org.requester, body="thanks")
    request_services.request_comment(request=leaky_request, actor=org.support2, body="ok")

    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Tax", service=org.service, team=org.support
    )
    with pytest.raises(ActionForbidden):
        problem_services.problem_comment(problem=problem, actor=pm, body="hi")
    problem_services.problem_comment(problem=problem, actor=org.support2, body="ok")

    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    item = project_services.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Bug"
    )
    with pytest.raises(ActionForbidden):
        project_services.work_comment(item=item, actor=org.agent, body="hi")
    project_services.work_comment(item=item, actor=org.developer, body="ok")

    from itsm.services import changes as change_services

    change = change_services.change_create(
        actor=org.developer, title="Patch", type="normal", services=[org.service]
    )
    with pytest.raises(ActionForbidden):
        change_services.change_comment(change=change, actor=org.agent, body="hi")
    change_services.change_comment(change=change, actor=org.change_manager, body="ok")
    res = api_as(org.agent).post(
        f"/api/v1/changes/{change.pk}/comments/", {"body": "hi"}, format="json"
    )
    assert res.status_code == 403, json.dumps(res.json())


def test_requester_token_reads_no_team_tier_on_any_ticket(org, leaky_request) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1, the twin of the incident's tier: a service request names its team (and
    the catalogue its fulfilment team) with the tier too; a requester reads the name only,
    staff the tier."""
    client, staff = api_as(org.requester), api_as(org.agent)
    url = f"/api/v1/requests/{leaky_request.pk}/"
    assert client.get(url).json()["team"] == {
        "id": org.support.pk,
        "name": org.support.name,
        "tier": None,
    }
    assert staff.get(url).json()["team"]["tier"] == org.support.tier
    items = client.get("/api/v1/catalog-items/").json()["results"]
    assert items and all(i["fulfilment_team"]["tier"] is None for i in items)


def test_requester_token_reads_no_support_routing(org, leaky_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1 (found in the done-when walk): the requester's page shows the team by
    name but never the tier, the teams' membership, SLA policies' escalation rules or the
    calendars; the API said all of it to their token."""
    client = api_as(org.requester)
    detail = client.get(f"/api/v1/incidents/{leaky_incident.pk}/").json()
    assert detail["tier"] is None
    assert detail["team"] is None or detail["team"]["tier"] is None
    for url in (
        "/api/v1/teams/",
        f"/api/v1/teams/{org.desk.pk}/",
        "/api/v1/sla-policies/",
        "/api/v1/calendars/",
    ):
        assert client.get(url).status_code == 403, url
    services = client.get("/api/v1/services/").json()["results"]
    assert services and all(set(s) == {"id", "name", "description", "is_active"} for s in services)
    # Staff read all of it.
    staff = api_as(org.agent)
    assert staff.get(f"/api/v1/incidents/{leaky_incident.pk}/").json()["tier"] is not None
    for url in ("/api/v1/teams/", "/api/v1/sla-policies/", "/api/v1/calendars/"):
        assert staff.get(url).status_code == 200, url
    assert "support_team" in staff.get("/api/v1/services/").json()["results"][0]
