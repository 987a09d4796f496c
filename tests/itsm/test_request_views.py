"""Request pages: order from the catalogue, approve, fulfil task by task, close."""

from __future__ import annotations

from django.test import Client

from itsm.models import ServiceRequest
from tests.itsm.test_requests import GOOD, laptop  # noqa: F401  (fixture)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_order_approve_fulfil_close_in_the_browser(org, laptop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    requester = client_for(org.requester)
    page = requester.get("/catalogue/")
    assert page.status_code == 200 and b"New laptop" in page.content
    form = requester.get(f"/catalogue/{laptop.pk}/")
    assert b"Developer 16" in form.content
    bad = requester.post(
        f"/catalogue/{laptop.pk}/", {"model": 'Developer 16"', "needed_by": "soon"}
    )
    assert bad.status_code == 400 and b"A date as YYYY-MM-DD" in bad.content
    res = requester.post(f"/catalogue/{laptop.pk}/", GOOD)
    req = ServiceRequest.objects.get()
    assert res["Location"] == req.get_absolute_url()
    manager = client_for(org.change_manager)
    board = manager.get("/approvals/")
    assert req.key.encode() in board.content
    approval_id = int(board.content.decode().split('data-approval="')[1].split('"')[0])
    manager.post("/approvals/", {"approval": approval_id, "decision": "approved"})
    req.refresh_from_db()
    assert req.status == "approved"
    support = client_for(org.support2)
    assert b'data-transition="start_fulfilment"' in support.get(req.get_absolute_url()).content
    support.post(f"/requests/{req.key}/transitions/start_fulfilment/", {})
    for task in req.tasks.all():
        support.post(f"/requests/{req.key}/tasks/{task.pk}/complete/", {})
    req.refresh_from_db()
    assert req.status == "fulfilled"
    requester.post(f"/requests/{req.key}/transitions/close/", {})
    req.refresh_from_db()
    assert req.status == "closed"


def test_request_pages_render_and_scope(org, laptop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client_for(org.requester).post(f"/catalogue/{laptop.pk}/", GOOD)
    req = ServiceRequest.objects.get()
    assert client_for(org.requester2).get(req.get_absolute_url()).status_code == 404
    assert client_for(org.requester2).get("/requests/").status_code == 200
    assert req.key.encode() not in client_for(org.requester2).get("/requests/").content
    assert req.key.encode() in client_for(org.support2).get("/requests/?show=mine").content
    assert client_for(org.agent).get("/approvals/").status_code == 200
    assert client_for(org.agent).post("/approvals/", {"approval": 999}).status_code == 404
