"""Issue 10 #15: buttons carry the transitions' own labels; the activity stream shows
fields by their names, choices by their labels and dates in local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.test import Client

from itsm import services
from projects import services as ps
from projects.models import Project

LONDON = ZoneInfo("Europe/London")


def _page(user, url: str) -> str:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    res = c.get(url)
    assert res.status_code == 200
    return res.content.decode()


def test_release_buttons_use_transition_labels(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #15: "Startdevelopment" becomes "Start development"."""
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    release = ps.release_create(actor=org.change_manager, project=project, version="2.3")
    html = _page(org.change_manager, f"/releases/{release.pk}/")
    assert ">Start development</button>" in html
    assert "Startdevelopment" not in html
    ps.release_transition(release=release, actor=org.change_manager, name="start_development")
    html = _page(org.change_manager, f"/releases/{release.pk}/")
    assert ">Hand over to UAT</button>" in html
    assert "· Start development · Planning → Development" in html


def test_timeline_shows_labels_and_local_dates(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #15: `responded_at: — → 2026-11-25T09:11:35.997616+00:00` reads
    "Responded at: — → 25 Nov 2026 09:11"; states and choices by their labels."""
    summer = datetime(2026, 7, 1, 9, 11, 35, tzinfo=LONDON)  # BST: UTC 08:11
    with time_machine.travel(summer, tick=False):
        inc = services.incident_create(actor=org.requester, service=org.service, title="Slow")
        inc = services.incident_assign(incident=inc, actor=org.agent, assignee=org.agent)
        services.incident_update(incident=inc, actor=org.agent, impact="high")
    html = _page(org.agent, inc.get_absolute_url())
    assert "Responded at: — → 1 Jul 2026 09:11" in html
    assert "2026-07-01T" not in html
    assert "New → Assigned" in html
    assert "Impact: Medium → High" in html
    assert f"Assignee: — → {org.agent.get_full_name() or org.agent.username}" in html
