"""Pages render for each role and their buttons call the same services as the API."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import AuditEvent
from itsm import services
from itsm.models import Incident
from tests.conftest import drive


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_login_page_and_redirect(db) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    assert c.get("/").status_code == 302
    page = c.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in" in page.content


def test_sign_in_with_password_lands_agent_on_desk(org) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    res = c.post("/accounts/login/", {"username": "agent", "password": "pw"}, follow=True)
    assert res.redirect_chain[-1][0].startswith("/desk/")
    assert b"Queues" in res.content


@pytest.mark.parametrize(
    "role", ["agent", "support2", "developer", "incident_manager", "change_manager", "admin"]
)
def test_desk_renders_for_staff_roles(org, new_incident, role) -> None:  # type: ignore[no-untyped-def]
    res = client_for(getattr(org, role)).get("/desk/?queue=all")
    assert res.status_code == 200
    assert new_incident.key.encode() in res.content


def test_requester_is_sent_to_the_portal(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.requester)
    assert c.get("/")["Location"] == "/portal/"
    assert c.get("/desk/")["Location"] == "/portal/"
    page = c.get("/portal/")
    assert page.status_code == 200 and new_incident.key.encode() in page.content


def test_desk_queues_counts_filters_and_htmx_fragment(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    other = services.incident_create(
        actor=org.requester2, service=org.service, title="Low thing", impact="low", urgency="low"
    )
    drive(other, org, "in_progress")  # assigned to agent
    c = client_for(org.agent)
    mine = c.get("/desk/")  # agent has work of their own: "My work" is the default
    assert other.key.encode() in mine.content and new_incident.key.encode() not in mine.content
    team = c.get(f"/desk/?queue=team-{org.desk.pk}&priority=2")
    assert new_incident.key.encode() in team.content and other.key.encode() not in team.content
    frag = c.get(f"/desk/?queue=team-{org.desk.pk}", HTTP_HX_REQUEST="true")
    assert frag.status_code == 200 and b"<html" not in frag.content
    assert b"P2 \xc2\xb7 1" in frag.content  # the per-priority count chip
    assert c.get("/desk/?queue=team-x").status_code == 404


def test_incident_page_for_agent_shows_buttons_they_may_use(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    page = client_for(org.agent).get(f"/incidents/{new_incident.key}/")
    assert page.status_code == 200
    for name in ("assign", "escalate", "cancel"):
        assert f'data-transition="{name}"'.encode() in page.content
    assert b'data-transition="resolve"' not in page.content
    assert b"Internal work note" in page.content


def test_incident_page_for_requester_hides_internal_notes(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_comment(incident=new_incident, actor=org.agent, body="secret", public=False)
    services.incident_comment(incident=new_incident, actor=org.agent, body="hello", public=True)
    page = client_for(org.requester).get(f"/incidents/{new_incident.key}/")
    assert b"hello" in page.content and b"secret" not in page.content
    assert b'data-transition="cancel"' in page.content
    assert b'data-transition="assign"' not in page.content
    assert client_for(org.requester2).get(f"/incidents/{new_incident.key}/").status_code == 404


def test_raise_incident_from_portal(org) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.requester)
    assert c.get("/incidents/new/").status_code == 200
    res = c.post("/incidents/new/", {"title": "", "service": org.service.pk})
    assert res.status_code == 400 and b"This field is required" in res.content
    res = c.post(
        "/incidents/new/",
        {
            "title": "VPN down",
            "service": org.service.pk,
            "category": "network",
            "impact": "high",
            "urgency": "high",
        },
    )
    inc = Incident.objects.get(title="VPN down")
    assert res["Location"] == f"/incidents/{inc.key}/"
    assert inc.priority == 1 and inc.requester == org.requester


def test_agent_logs_for_a_caller_from_the_desk(org) -> None:  # type: ignore[no-untyped-def]
    res = client_for(org.agent).post(
        "/incidents/new/",
        {
            "title": "Caller locked out",
            "service": org.service.pk,
            "category": "access",
            "impact": "low",
            "urgency": "medium",
            "requester": org.requester2.pk,
        },
    )
    assert res.status_code == 302
    assert Incident.objects.get(title="Caller locked out").requester == org.requester2


def test_transition_buttons_fire_the_service(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    url = f"/incidents/{new_incident.key}/transitions/"
    res = c.post(url + "assign/", {"assignee": org.agent.pk, "comment": "taking it"})
    assert res.status_code == 302
    new_incident.refresh_from_db()
    assert new_incident.status == "assigned" and new_incident.assignee == org.agent
    res = c.post(url + "escalate/", {"reason": ""})
    assert res.status_code == 400 and b"This field is required" in res.content
    # (resolve is possible from assigned since issue 12: reopen is not)
    res = c.post(url + "reopen/", {"reason": "x"})
    assert res.status_code == 409 and b"Not possible now" in res.content
    res = client_for(org.requester).post(url + "assign/", {"assignee": org.agent.pk})
    assert res.status_code == 403
    assert AuditEvent.objects.filter(action="assign").count() == 1


def test_reply_with_htmx_returns_the_timeline(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.requester)
    res = c.post(
        f"/incidents/{new_incident.key}/comments/", {"body": "Any news?"}, HTTP_HX_REQUEST="true"
    )
    assert res.status_code == 200 and b"Any news?" in res.content
    assert b"<html" not in res.content


def test_requester_confirms_resolution_from_the_page(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    drive(new_incident, org, "resolved")
    c = client_for(org.requester)
    page = c.get(f"/incidents/{new_incident.key}/")
    assert (
        b'data-transition="close"' in page.content and b'data-transition="reopen"' in page.content
    )
    c.post(f"/incidents/{new_incident.key}/transitions/close/", {})
    new_incident.refresh_from_db()
    assert new_incident.status == "closed"


def test_edit_details_from_the_page(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.agent)
    res = c.post(
        f"/incidents/{new_incident.key}/edit/",
        {
            "title": "Tax code wrong for all",
            "service": org.service.pk,
            "category": "software",
            "impact": "high",
            "urgency": "high",
            "major_incident": "on",
        },
    )
    assert res.status_code == 302
    new_incident.refresh_from_db()
    assert (new_incident.priority, new_incident.major_incident) == (1, True)
