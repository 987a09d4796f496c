"""Issue 11, review of the increment: the interplay of hypercare routing, My work,
attachments and the board (defects found after the parts were merged)."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from itsm import services as itsm
from projects.models import HypercareRoute, Release


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_issue11_my_work_lists_hypercare_incidents_routed_to_my_team(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (bridge + My work): an incident raised in a release's hypercare is in the
    release team's 3rd-line queue, so My work (the developer's 3rd-line incidents) lists it
    too, although the incident itself still sits with the service desk."""
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax wrong")
    assert HypercareRoute.objects.filter(incident=inc, team=org.dev).exists()
    html = client_for(org.developer).get("/my-work/").content.decode()
    assert inc.key in html
