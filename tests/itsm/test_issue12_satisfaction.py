"""Issue 12, satisfaction: on each resolution the requester is asked one question (in the
e-mail, through signed links, and on the portal's ticket page); the answer is stored on the
ticket with the team, service and agent of the resolution, and reported per team, service
and agent (page and API)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import ActionForbidden, ConflictError
from core.models import AuditEvent, OutboxMessage
from core.roles import Role
from itsm import services
from itsm.models import CatalogItem, CatalogTaskTemplate, Incident, SatisfactionResponse
from itsm.services import requests as rs
from itsm.services.satisfaction import satisfaction_answer
from tests.conftest import api_as, drive
from tests.factories import ServiceFactory, UserFactory

LINK = re.compile(r"http://tandem\.test(/satisfaction/[^/\s]+/)\?answer=(yes|no)")


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _links(ticket) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The answer links of the ticket's latest resolution e-mail, by answer."""
    message = OutboxMessage.objects.filter(
        object_id=ticket.pk, event__in=["incident.resolved", "request.fulfilled"]
    ).latest("id")
    return {answer: f"{path}?answer={answer}" for path, answer in LINK.findall(message.body)}


def _answers(ticket) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(
        AuditEvent.objects.filter(
            object_id=ticket.pk,
            content_type__model=ticket._meta.model_name,
            action="satisfaction_answered",
        ).order_by("id")
    )


@pytest.fixture
def resolved(org, new_incident) -> Incident:  # type: ignore[no-untyped-def]
    return drive(new_incident, org, "resolved")


def test_the_resolution_email_asks_with_yes_and_no_links(org, resolved) -> None:  # type: ignore[no-untyped-def]
    links = _links(resolved)
    assert set(links) == {"yes", "no"}
    [asked] = SatisfactionResponse.objects.filter(incident=resolved)
    # what the report groups by, as it was at resolution
    assert (asked.round, asked.requester, asked.agent) == (1, org.requester, org.agent)
    assert (asked.team, asked.service) == (resolved.team, org.service)
    assert asked.satisfied is None and asked.answered_at is None


def test_a_fulfilled_request_asks_too(org) -> None:  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    CatalogTaskTemplate.objects.create(item=item, title="Hand over a mouse")
    req = rs.request_submit(actor=org.requester, item=item, answers={})
    req = rs.request_start_fulfilment(request=req, actor=org.support2)
    rs.task_transition(task=req.tasks.get(), actor=org.support2, name="complete")
    req.refresh_from_db()
    assert req.status == "fulfilled"
    links = _links(req)
    assert set(links) == {"yes", "no"}
    [asked] = SatisfactionResponse.objects.filter(request=req)
    # nobody held it: the agent is who completed the last task
    assert (asked.team, asked.service, asked.agent) == (org.support, org.service, org.support2)
    page = _client().post(links["yes"].split("?")[0], {"satisfied": "yes"})
    assert page.status_code == 200
    asked.refresh_from_db()
    assert asked.satisfied is True
    # the portal's request page shows the answer to its requester
    body = _client(org.requester).get(req.get_absolute_url()).content.decode()
    assert 'id="satisfaction"' in body and "Thank you for your answer" in body


def test_a_link_opens_the_question_and_one_post_answers_it(  # type: ignore[no-untyped-def]
    org, resolved, django_capture_on_commit_callbacks
) -> None:
    links = _links(resolved)
    anonymous = _client()  # the signed token is the proof: no sign-in
    page = anonymous.get(links["no"])
    assert page.status_code == 200
    html = page.content.decode()
    assert resolved.key in html and 'value="no" checked' in html
    # opening the link (a mail scanner does) answers nothing
    assert SatisfactionResponse.objects.get(incident=resolved).answered_at is None
    mails = OutboxMessage.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        done = anonymous.post(
            links["no"].split("?")[0], {"satisfied": "no", "comment": "Took three days."}
        )
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    answer = SatisfactionResponse.objects.get(incident=resolved)
    assert (answer.satisfied, answer.comment) == (False, "Took three days.")
    assert answer.answered_at is not None
    [audit] = _answers(resolved)
    assert audit.actor == org.requester and audit.comment == "Not satisfied: Took three days."
    assert OutboxMessage.objects.count() == mails  # an answer sends no e-mail
    # answering again before the next resolution replaces the answer: still one row
    anonymous.post(links["no"].split("?")[0], {"satisfied": "yes"})
    answer = SatisfactionResponse.objects.get(incident=resolved)
    assert (answer.satisfied, answer.comment) == (True, "")
    assert len(_answers(resolved)) == 2


def test_a_changed_link_is_400_and_an_expired_one_403_with_a_message(org, resolved) -> None:  # type: ignore[no-untyped-def]
    link = _links(resolved)["yes"].split("?")[0]
    tampered = link[:-6] + ("A" if link[-6] != "A" else "B") + link[-5:]
    r = _client().get(tampered)
    assert r.status_code == 400 and "not valid" in r.content.decode()
    r = _client().post(tampered, {"satisfied": "yes"})
    assert r.status_code == 400
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        r = _client().post(link, {"satisfied": "yes"})
    assert r.status_code == 403 and "expired" in r.content.decode()
    assert SatisfactionResponse.objects.get(incident=resolved).answered_at is None
    assert _answers(resolved) == []


def test_a_missing_answer_keeps_the_form_and_says_what_to_add(org, resolved) -> None:  # type: ignore[no-untyped-def]
    link = _links(resolved)["yes"].split("?")[0]
    r = _client().post(link, {"comment": "Quick, thanks"})
    html = r.content.decode()
    assert r.status_code == 400 and "Say whether you are satisfied" in html
    assert "Quick, thanks" in html  # the comment is kept
    r = _client().post(link, {"satisfied": "yes", "comment": "x" * 1001})
    assert r.status_code == 400 and "keep it under 1000" in r.content.decode()
    assert _answers(resolved) == []


def test_a_reopened_incident_is_asked_again_at_its_next_resolution(org, resolved) -> None:  # type: ignore[no-untyped-def]
    first = _links(resolved)["yes"].split("?")[0]
    incident = services.incident_reopen(incident=resolved, actor=org.requester, reason="Again")
    r = _client().post(first, {"satisfied": "yes"})
    assert r.status_code == 409 and "asked again when it is resolved" in r.content.decode()
    incident = services.incident_resolve(
        incident=incident, actor=org.agent, resolution_code="fixed", resolution_notes="Now."
    )
    r = _client().post(first, {"satisfied": "yes"})
    assert r.status_code == 409 and "resolved again" in r.content.decode()
    second = _links(incident)["yes"].split("?")[0]
    assert second != first
    assert _client().post(second, {"satisfied": "yes"}).status_code == 200
    rounds = dict(
        SatisfactionResponse.objects.filter(incident=incident).values_list("round", "satisfied")
    )
    assert rounds == {1: None, 2: True}


def test_the_portal_asks_only_the_requester(org, resolved) -> None:  # type: ignore[no-untyped-def]
    url = resolved.get_absolute_url()
    mine = _client(org.requester).get(url).content.decode()
    assert 'id="satisfaction"' in mine and 'name="satisfied"' in mine
    assert f"/incidents/{resolved.key}/satisfaction/" in mine
    for staff in (org.agent, org.incident_manager):
        assert 'id="satisfaction"' not in _client(staff).get(url).content.decode()
    assert _client(org.requester2).get(url).status_code == 404
    # only the requester answers (the agent can open the ticket, not answer for them)
    r = _client(org.agent).post(f"/incidents/{resolved.key}/satisfaction/", {"satisfied": "yes"})
    assert r.status_code == 403
    r = _client(org.requester).post(
        f"/incidents/{resolved.key}/satisfaction/", {"satisfied": "yes", "comment": "Great"}
    )
    assert r.status_code == 302 and r["Location"].endswith("#satisfaction")
    answered = _client(org.requester).get(url).content.decode()
    assert "Thank you for your answer" in answered and "Great" in answered
    # staff see the answer on the timeline; the requester's timeline leaves it out
    assert "answered the satisfaction question" in _client(org.agent).get(url).content.decode()
    assert "answered the satisfaction question" not in answered


def test_an_open_incident_asks_nothing(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    page = _client(org.requester).get(new_incident.get_absolute_url()).content.decode()
    assert 'id="satisfaction"' not in page
    with pytest.raises(ConflictError):
        satisfaction_answer(ticket=new_incident, actor_or_token=org.requester, satisfied=True)
    with pytest.raises(ActionForbidden):
        satisfaction_answer(ticket=new_incident, actor_or_token=org.agent, satisfied=True)


# --- the report ------------------------------------------------------------------------------
def _answered(org, *, n: int, service=None, satisfied=True, agent=None, team=None, comment=""):  # type: ignore[no-untyped-def]
    """``n`` resolved incidents answered through the service."""
    for _ in range(n):
        incident = services.incident_create(
            actor=org.requester, service=service or org.service, title="Slow payslips"
        )
        incident = services.incident_assign(
            incident=incident, actor=org.agent, assignee=agent or org.agent, team=team
        )
        incident = services.incident_resolve(
            incident=incident,
            actor=agent or org.agent,
            resolution_code="fixed",
            resolution_notes="Done.",
        )
        satisfaction_answer(
            ticket=incident, actor_or_token=org.requester, satisfied=satisfied, comment=comment
        )


def _report(org, user, **params):  # type: ignore[no-untyped-def]
    return api_as(user).get("/api/v1/satisfaction/report/", params)


def test_the_report_counts_per_team_service_and_agent_in_fixed_queries(org) -> None:  # type: ignore[no-untyped-def]
    hr = ServiceFactory(name="HR portal", support_team=org.support, development_team=org.dev)
    org.desk.members.add(org.agent_other)
    _answered(org, n=3, satisfied=True)
    _answered(org, n=1, satisfied=False, comment="Slow")
    _answered(org, n=2, service=hr, agent=org.agent_other, satisfied=True)
    im = _client(org.incident_manager)
    with CaptureQueriesContext(connection) as few:
        page = im.get("/reports/satisfaction/")
    assert page.status_code == 200
    tables = dict(page.context["tables"])
    team = {r.name: (r.responses, r.satisfied, r.percent_satisfied) for r in tables["team"]}
    assert team == {"Service Desk": (6, 5, 83.3)}
    service = {r.name: (r.responses, r.percent_satisfied) for r in tables["service"]}
    assert service == {"HR portal": (2, 100.0), "Payroll": (4, 75.0)}
    agents = {r.name: r.responses for r in tables["agent"]}
    assert agents == {
        org.agent.get_full_name(): 4,
        org.agent_other.get_full_name(): 2,
    }
    assert [c.comment for c in page.context["comments"]] == ["Slow"]
    _answered(org, n=5, satisfied=False, comment="Meh")
    with CaptureQueriesContext(connection) as more:
        assert im.get("/reports/satisfaction/").status_code == 200
    assert len(more) == len(few)  # the rows do not add queries
    # API: the same numbers, one grouping at a time
    rows = _report(org, org.incident_manager, group="service").json()["rows"]
    assert {r["name"]: r["responses"] for r in rows} == {"HR portal": 2, "Payroll": 9}
    body = _report(org, org.incident_manager, group="agent").json()
    assert body["latest_comments"][0]["comment"] == "Meh"


def test_the_report_keeps_the_team_and_agent_of_the_resolution(org) -> None:  # type: ignore[no-untyped-def]
    _answered(org, n=1)
    incident = Incident.objects.latest("id")
    incident = services.incident_reopen(incident=incident, actor=org.requester, reason="Back")
    incident = services.incident_escalate(incident=incident, actor=org.agent, reason="Deeper")
    services.incident_assign(incident=incident, actor=org.support2, assignee=org.support2)
    for group, name in (("agent", org.agent.get_full_name()), ("team", "Service Desk")):
        rows = _report(org, org.incident_manager, group=group).json()["rows"]
        assert [(r["name"], r["responses"]) for r in rows] == [(name, 1)]


def test_the_report_is_for_managers_and_leads_over_a_period(org) -> None:  # type: ignore[no-untyped-def]
    _answered(org, n=2)
    lead = org.agent  # leads the service desk
    assert _client(lead).get("/reports/satisfaction/").status_code == 200
    assert _client(org.admin).get("/reports/satisfaction/").status_code == 200
    for user in (org.agent_other, org.requester):
        assert _client(user).get("/reports/satisfaction/").status_code == 403
        assert _report(org, user).status_code == 403
    # a lead reads only the answers about their team
    other_lead = UserFactory(username="lead2", roles=[Role.SECOND_LINE])
    org.other_desk.lead = other_lead
    org.other_desk.save()
    assert _report(org, other_lead).json()["rows"] == []
    assert _report(org, lead).json()["rows"][0]["responses"] == 2
    # the period: answers given before ``since`` are left out; bad dates are a clear 400
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert _report(org, lead, since=tomorrow, until=tomorrow).json()["rows"] == []
    r = _report(org, lead, since="yesterday")
    assert r.status_code == 400 and "not a date" in r.json()["detail"]
    assert _report(org, lead, group="colour").status_code == 400
    assert _client(lead).get("/reports/satisfaction/?since=2026-13-01").status_code == 400


def test_the_api_lists_answers_to_staff_scoped_to_what_they_answer_for(org, resolved) -> None:  # type: ignore[no-untyped-def]
    satisfaction_answer(ticket=resolved, actor_or_token=org.requester, satisfied=False)
    assert api_as(org.requester).get("/api/v1/satisfaction/").status_code == 403
    rows = api_as(org.incident_manager).get("/api/v1/satisfaction/").json()["results"]
    assert [(r["ticket"], r["satisfied"], r["agent"]) for r in rows] == [
        (resolved.key, False, "agent")
    ]
    assert api_as(org.agent_other).get("/api/v1/satisfaction/").json()["results"] == []
    got = api_as(org.incident_manager).get("/api/v1/satisfaction/?satisfied=true").json()
    assert got["results"] == []


def test_the_requester_answers_through_the_api_with_the_same_service(org, resolved) -> None:  # type: ignore[no-untyped-def]
    r = api_as(org.requester).post(
        "/api/v1/satisfaction/answer/",
        {"ticket": resolved.key, "satisfied": True, "comment": "Thanks"},
        format="json",
    )
    assert r.status_code == 200 and r.json()["satisfied"] is True
    assert len(_answers(resolved)) == 1
    r = api_as(org.agent).post(
        "/api/v1/satisfaction/answer/", {"ticket": resolved.key, "satisfied": True}, format="json"
    )
    assert r.status_code == 403
    r = api_as(org.requester).post(
        "/api/v1/satisfaction/answer/", {"ticket": resolved.key}, format="json"
    )
    assert r.status_code == 400


def test_the_answer_list_costs_the_same_queries_for_more_rows(org) -> None:  # type: ignore[no-untyped-def]
    _answered(org, n=1, comment="Fine")
    im = api_as(org.incident_manager)
    im.get("/api/v1/satisfaction/")  # the user's roles are read once, then cached on them
    with CaptureQueriesContext(connection) as one:
        assert len(im.get("/api/v1/satisfaction/").json()["results"]) == 1
    _answered(org, n=4, satisfied=False, comment="Slow")
    with CaptureQueriesContext(connection) as five:
        assert len(im.get("/api/v1/satisfaction/").json()["results"]) == 5
    assert len(five) == len(one)
