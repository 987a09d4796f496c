from __future__ import annotations

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from itsm import services
from sla.services import clocks_sweep
from tests.conftest import api_as


def test_incident_resource_shows_its_clocks(org) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_create(
        actor=org.requester, service=org.service, title="x", impact="high", urgency="high"
    )
    body = api_as(org.requester).get(f"/api/v1/incidents/{inc.pk}/").json()
    sla = {c["target"]: c for c in body["sla"]}
    assert sla["response"]["target_seconds"] == 1800
    assert sla["response"]["level"] == "ok" and sla["response"]["state"] == "running"
    assert sla["resolution"]["policy"] == "Incident P1"


def test_clock_timeline_endpoint_links_audit_entries(org) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_create(actor=org.requester, service=org.service, title="x")
    services.incident_assign(incident=inc, actor=org.agent, assignee=org.agent)
    timeline = api_as(org.agent).get(f"/api/v1/incidents/{inc.key}/sla/").json()
    response = next(c for c in timeline if c["target"] == "response")
    assert [e["kind"] for e in response["events"]] == ["started", "met"]
    assert all(e["audit_event"] for e in response["events"])


def test_policies_and_calendars_read_for_all_write_for_admin(org) -> None:  # type: ignore[no-untyped-def]
    agent, admin = api_as(org.agent), api_as(org.admin)
    assert agent.get("/api/v1/sla-policies/").json()["count"] == 6  # P1–P5, requests
    cals = agent.get("/api/v1/calendars/").json()["results"]
    business = next(c for c in cals if c["name"] == "Business hours")
    assert len(business["periods"]) == 5
    assert (
        agent.patch(
            f"/api/v1/calendars/{business['id']}/", {"always_open": True}, format="json"
        ).status_code
        == 403
    )
    res = admin.post(
        "/api/v1/calendars/",
        {
            "name": "Follow the sun",
            "timezone": "Asia/Singapore",
            "periods": [{"weekday": 0, "start": "08:00", "end": "20:00"}],
            "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    assert (
        admin.post(
            "/api/v1/calendars/", {"name": "Bad", "timezone": "Mars/Olympus"}, format="json"
        ).status_code
        == 400
    )
    res = admin.post(
        "/api/v1/calendars/",
        {"name": "Bad2", "periods": [{"weekday": 0, "start": "18:00", "end": "08:00"}]},
        format="json",
    )
    assert res.status_code == 400 and "periods" in res.json()["fields"]
    res = admin.post(
        "/api/v1/sla-policies/",
        {
            "name": "Payroll P1",
            "priority": 1,
            "service": org.service.pk,
            "calendar": res.json() and business["id"],
            "response_minutes": 15,
            "resolution_minutes": 120,
            "warning_thresholds": [50, 150],
        },
        format="json",
    )
    assert res.status_code == 400 and "warning_thresholds" in res.json()["fields"]


def test_service_specific_policy_wins(org) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    business = admin.get("/api/v1/calendars/").json()["results"][0]["id"]
    res = admin.post(
        "/api/v1/sla-policies/",
        {
            "name": "Payroll P1",
            "priority": 1,
            "service": org.service.pk,
            "calendar": business,
            "response_minutes": 15,
            "resolution_minutes": 120,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    inc = services.incident_create(
        actor=org.requester, service=org.service, title="x", impact="high", urgency="high"
    )
    sla = {c["target"]: c for c in admin.get(f"/api/v1/incidents/{inc.pk}/").json()["sla"]}
    assert sla["response"]["policy"] == "Payroll P1"


def test_sla_report_groups_and_validates(org) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        late = services.incident_create(
            actor=org.requester, service=org.service, title="a", impact="high", urgency="high"
        )
        quick = services.incident_create(
            actor=org.requester, service=org.service, title="b", impact="high", urgency="high"
        )
        services.incident_assign(incident=quick, actor=org.agent, assignee=org.agent)
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        clocks_sweep()
    agent = api_as(org.agent)
    day = start.date().isoformat()
    body = agent.get(f"/api/v1/reports/sla/?from={day}&to={day}&group_by=priority").json()
    response = next(r for r in body["rows"] if r["target"] == "response")
    assert (
        response["group"],
        response["total"],
        response["met"],
        response["breached"],
        response["compliance"],
    ) == ("P1", 2, 1, 1, 50.0)
    assert [b["ticket"] for b in body["breaches"]] == [late.key]
    by_team = agent.get(f"/api/v1/reports/sla/?from={day}&to={day}&group_by=team").json()
    assert {r["group"] for r in by_team["rows"]} == {"Service Desk"}
    assert agent.get("/api/v1/reports/sla/?group_by=colour").status_code == 400
    assert agent.get("/api/v1/reports/sla/?from=yesterday").status_code == 400
    assert agent.get(f"/api/v1/reports/sla/?from={day}&to=2000-01-01").status_code == 400
    assert api_as(org.requester).get("/api/v1/reports/sla/").status_code == 403


def test_pages_show_clocks_report_and_third_line_order(org) -> None:  # type: ignore[no-untyped-def]
    slow = services.incident_create(
        actor=org.requester, service=org.service, title="slow", impact="low", urgency="low"
    )
    urgent = services.incident_create(
        actor=org.requester, service=org.service, title="urgent", impact="high", urgency="high"
    )
    for inc in (slow, urgent):
        services.incident_escalate(incident=inc, actor=org.agent, reason="r", tier=3)
    c = Client()
    c.force_login(org.developer)
    page = c.get(f"/desk/?queue=team-{org.dev.pk}")
    body = page.content.decode()
    assert 'class="clock ok"' in body
    assert body.index(urgent.key) < body.index(slow.key)  # SLA urgency is the default order
    detail = c.get(f"/incidents/{urgent.key}/").content.decode()
    assert 'id="sla"' in detail and "Incident P1" in detail
    report = c.get("/sla/report/?group_by=service")
    assert report.status_code == 200 and b"SLA compliance" in report.content
    requester = Client()
    requester.force_login(org.requester)
    assert requester.get("/sla/report/").status_code == 403
