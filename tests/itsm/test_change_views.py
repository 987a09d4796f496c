"""Change pages: the normal and emergency paths in the browser, calendar and CAB board."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from itsm.models import Approval, Change, FreezeWindow
from tests.itsm.test_changes import PLANS, cab  # noqa: F401  (fixture)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def local(dt) -> str:  # type: ignore[no-untyped-def]
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def test_normal_change_in_the_browser(org, cab) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    dev, cm = client_for(org.developer), client_for(org.change_manager)
    assert dev.get("/changes/new/").status_code == 200
    bad = dev.post("/changes/new/", {"type": "normal", "title": "x", "impact": "medium"})
    assert bad.status_code == 400 and b"Name the services" in bad.content
    res = dev.post(
        "/changes/new/",
        {
            "type": "normal",
            "title": "Upgrade payroll",
            "impact": "medium",
            "services": [org.service.pk],
            "implementer": org.developer.pk,
            **PLANS,
        },
    )
    change = Change.objects.get()
    assert res["Location"] == change.get_absolute_url()
    dev.post(f"/changes/{change.key}/transitions/submit/", {})
    page = cm.get(change.get_absolute_url()).content.decode()
    assert 'data-transition="assess"' in page and "risk questionnaire" in page.lower()
    cm.post(
        f"/changes/{change.key}/transitions/assess/",
        {"risk_many_users": "yes", "risk_untested": "yes"},
    )
    change.refresh_from_db()
    assert (change.status, change.risk) == ("assessment", "high")
    cm.post(
        f"/changes/{change.key}/transitions/request_approval/",
        {"approvers": [cab[0].pk, cab[1].pk]},
    )
    assert client_for(org.change_manager).get("/changes/cab/").status_code == 200
    for member in cab:
        approval = Approval.objects.get(approver=member)
        client_for(member).post("/approvals/", {"approval": approval.pk, "decision": "approved"})
    start = timezone.now() + timedelta(days=3)
    FreezeWindow.objects.create(
        name="Quarter close", start=start - timedelta(hours=1), end=start + timedelta(hours=5)
    )
    res = cm.post(
        f"/changes/{change.key}/transitions/schedule/",
        {"planned_start": local(start), "planned_end": local(start + timedelta(hours=2))},
    )
    assert res.status_code == 409 and b"freeze" in res.content
    later = start + timedelta(days=2)
    cm.post(
        f"/changes/{change.key}/transitions/schedule/",
        {"planned_start": local(later), "planned_end": local(later + timedelta(hours=2))},
    )
    change.refresh_from_db()
    assert change.status == "scheduled"
    month = cm.get(f"/changes/calendar/?date={timezone.localdate(later).isoformat()}")
    assert change.key.encode() in month.content
    week = cm.get(f"/changes/calendar/?view=week&date={timezone.localdate(later).isoformat()}")
    assert change.key.encode() in week.content
    dev.post(f"/changes/{change.key}/transitions/implement/", {})
    dev.post(f"/changes/{change.key}/transitions/complete/", {"outcome": "successful"})
    res = cm.post(f"/changes/{change.key}/transitions/close/", {"review_notes": ""})
    assert res.status_code == 400
    cm.post(f"/changes/{change.key}/transitions/close/", {"review_notes": "Smooth."})
    change.refresh_from_db()
    assert change.status == "closed"


def test_emergency_override_in_the_browser(org) -> None:  # type: ignore[no-untyped-def]
    dev, cm = client_for(org.developer), client_for(org.change_manager)
    dev.post(
        "/changes/new/",
        {
            "type": "emergency",
            "title": "Hotfix",
            "impact": "high",
            "services": [org.service.pk],
            **PLANS,
        },
    )
    change = Change.objects.get()
    dev.post(f"/changes/{change.key}/transitions/submit/", {})
    cm.post(f"/changes/{change.key}/transitions/request_approval/", {})
    approval = Approval.objects.get()
    client_for(org.change_manager).post(
        "/approvals/", {"approval": approval.pk, "decision": "approved"}
    )
    start = timezone.now() + timedelta(hours=2)
    FreezeWindow.objects.create(
        name="Freeze", start=start - timedelta(hours=1), end=start + timedelta(hours=5)
    )
    window = {"planned_start": local(start), "planned_end": local(start + timedelta(hours=1))}
    res = cm.post(f"/changes/{change.key}/transitions/schedule/", window)
    assert res.status_code == 400 and b"override" in res.content
    cm.post(
        f"/changes/{change.key}/transitions/schedule/",
        {**window, "freeze_override_reason": "Payslips wrong"},
    )
    change.refresh_from_db()
    assert change.status == "scheduled" and change.freeze_override_reason == "Payslips wrong"
    page = cm.get(change.get_absolute_url()).content.decode()
    assert "Freeze overridden" in page and "Payslips wrong" in page


def test_change_pages_are_staff_only(org) -> None:  # type: ignore[no-untyped-def]
    requester = client_for(org.requester)
    for url in ("/changes/", "/changes/new/", "/changes/calendar/", "/changes/cab/"):
        assert requester.get(url).status_code == 404
        assert client_for(org.agent).get(url).status_code == 200


def test_incident_page_links_the_change_that_caused_it(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as incident_services

    inc = incident_services.incident_create(actor=org.requester, service=org.service, title="x")
    dev = client_for(org.developer)
    dev.post(
        "/changes/new/",
        {
            "type": "normal",
            "title": "Upgrade",
            "impact": "medium",
            "services": [org.service.pk],
            **PLANS,
        },
    )
    change = Change.objects.get()
    assert b"Caused by a change?" in client_for(org.agent).get(inc.get_absolute_url()).content
    client_for(org.agent).post(f"/changes/{change.key}/caused/", {"incident": inc.key})
    inc.refresh_from_db()
    assert inc.caused_by_change == change
    page = client_for(org.change_manager).get(change.get_absolute_url()).content.decode()
    assert inc.key in page
    assert b"Caused by" not in client_for(org.requester).get(inc.get_absolute_url()).content
