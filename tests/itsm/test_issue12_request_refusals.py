"""Issue 12, "Errors keep the form and say what to change", on the service request page: a
transition the request can no longer take (a page left open while someone else acted) and
a reply the service refuses come back on the request's page with the reason, the reply's
text kept, not on a bare error page."""

from __future__ import annotations

from django.test import Client

from itsm.models import CatalogItem, CatalogTaskTemplate
from itsm.services import requests as rs


def _request(org):  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    CatalogTaskTemplate.objects.create(item=item, title="Hand over a mouse")
    return rs.request_submit(actor=org.requester, item=item, answers={})


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_a_transition_no_longer_possible_is_refused_on_the_request_page(org) -> None:  # type: ignore[no-untyped-def]
    req = _request(org)
    agent = _client(org.support2)
    page = agent.get(req.get_absolute_url()).content.decode()
    assert 'data-transition="start_fulfilment"' in page  # offered when the page was loaded
    rs.request_cancel(request=req, actor=org.requester, comment="not needed")
    response = agent.post(f"/requests/{req.key}/transitions/start_fulfilment/", {"comment": "go"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "data-form-error" in page and req.key in page
    assert "Cancelled" in page  # the request as it is now


def test_a_refused_reply_keeps_its_text_and_says_why(org) -> None:  # type: ignore[no-untyped-def]
    req = _request(org)
    text = "x" * 20_001
    response = _client(org.support2).post(
        f"/requests/{req.key}/comments/", {"body": text, "visibility": "internal"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="comment-error"' in page and text in page
    assert 'value="internal" checked' in page
    from core.models import Comment

    assert not Comment.objects.filter(body=text).exists()


def test_a_reply_or_note_moves_the_last_update_of_every_ticket_type(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """A comment is news on its record whatever the type (lists' "last update", the
    desk's "not updated for", the live poll): the shared comment path moves it."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from itsm import services
    from itsm.models import Incident, Problem, ServiceRequest
    from itsm.services import problems

    req = _request(org)
    problem = problems.problem_create(actor=org.problem_manager, title="Tax", service=org.service)
    later = timezone.now() + timedelta(hours=3)
    with time_machine.travel(later, tick=False):
        services.incident_comment(incident=new_incident, actor=org.requester, body="Again.")
        rs.request_comment(request=req, actor=org.requester, body="Any news?")
        problems.problem_comment(problem=problem, actor=org.problem_manager, body="Cause?")
    assert Incident.objects.get(pk=new_incident.pk).updated_at == later
    assert ServiceRequest.objects.get(pk=req.pk).updated_at == later
    assert Problem.objects.get(pk=problem.pk).updated_at == later
