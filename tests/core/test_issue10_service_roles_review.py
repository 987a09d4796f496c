"""Issue 10 review, #20 with #1: a process role held per service is staff work; the
visibility policy opens problems, changes and releases to staff only, so a requester
named Change Manager of a service could approve nothing they could open. Naming one is
refused (400), on the API and the page."""

from __future__ import annotations

from django.test import Client

from core.models import ServiceRole
from tests.conftest import api_as


def test_issue10_20_a_requester_cannot_hold_a_process_role(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20: 400 naming the user; nothing written."""
    url = f"/api/v1/services/{org.service.pk}/roles/"
    res = api_as(org.admin).post(
        url, {"user": org.requester.pk, "role": "Change Manager"}, format="json"
    )
    assert res.status_code == 400 and "user" in res.json()["fields"]
    page = Client()
    page.force_login(org.admin)
    res = page.post(
        f"/services/{org.service.pk}/", {"user": org.requester.pk, "role": "Incident Manager"}
    )
    assert res.status_code == 400
    assert not ServiceRole.objects.exists()
