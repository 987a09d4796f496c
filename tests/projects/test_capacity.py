"""The 3rd-line reservation: time logged on incidents and problems is support, on work
items project; the team page shows reserved against used, and warns."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import UserProfile
from itsm import services as itsm
from projects import services as ps
from projects.capacity import team_capacity, time_log, week_bounds
from tests.conftest import api_as

WEDNESDAY = date(2026, 11, 25)


@pytest.fixture
def wednesday():  # type: ignore[no-untyped-def]
    with time_machine.travel(WEDNESDAY, tick=False):
        yield


def test_support_time_against_the_reservation(org, project, wednesday) -> None:  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="x")
    inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="dev", tier=3)
    defect = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="d")
    time_log(actor=org.developer, target=inc, hours="3.5", note="Analysed logs")
    time_log(actor=org.developer, target=defect, hours=20)
    c = team_capacity(org.dev, "2026-W48")
    [row] = c["rows"]
    assert (row.share, row.reserved, row.support, row.project) == (20, 8.0, 3.5, 20.0)
    assert row.warnings and "Under half" in row.warnings[0]  # while INC waits in the queue
    time_log(actor=org.developer, target=inc, hours=6)
    [row] = team_capacity(org.dev, "2026-W48")["rows"]
    assert row.support == 9.5 and "exceeds the 20 % reservation by 1.5 h" in row.warnings[0]
    UserProfile.objects.create(user=org.developer, support_share=30)
    [row] = team_capacity(org.dev, "2026-W48")["rows"]
    assert row.reserved == 12.0 and row.warnings == []


def test_time_log_validation(org, wednesday) -> None:  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="x")
    inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="dev", tier=3)
    for hours in ("0", "25", "-1"):
        with pytest.raises(ValidationFailed):
            time_log(actor=org.developer, target=inc, hours=hours)
    with pytest.raises(ValidationFailed):
        time_log(actor=org.developer, target=inc, hours=1, on=date(2026, 12, 1))
    with pytest.raises(ActionForbidden):
        time_log(actor=org.requester, target=inc, hours=1)
    with pytest.raises(ValidationFailed):
        week_bounds("last week")
    assert week_bounds("2026-W48")[0] == date(2026, 11, 23)


def test_capacity_page_and_api(org, project, wednesday) -> None:  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="x")
    # With the 3rd line: the dev team's work (issue 10 #23 counts time on the ticket's team).
    inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="dev", tier=3)
    c = Client()
    c.force_login(org.developer)
    c.post("/time/", {"target": inc.key, "hours": "2", "next": inc.get_absolute_url()})
    page = c.get(f"/teams/{org.dev.pk}/capacity/?week=2026-W48").content.decode()
    assert 'data-user="developer"' in page and "2.0 h" in page and "20 % = 8.0 h" in page
    assert "Log time" in c.get(inc.get_absolute_url()).content.decode()
    api = api_as(org.developer)
    res = api.post("/api/v1/time-entries/", {"target": inc.key, "hours": "1.5"}, format="json")
    assert res.status_code == 201 and res.json()["is_support"] is True
    assert (
        api.post(
            "/api/v1/time-entries/", {"target": "XYZ-1", "hours": 1}, format="json"
        ).status_code
        == 400
    )
    body = api.get(f"/api/v1/teams/{org.dev.pk}/capacity/?week=2026-W48").json()
    assert body["people"][0]["support_hours"] == 3.5
    assert api.get(f"/api/v1/teams/{org.dev.pk}/capacity/?week=nope").status_code == 400
    assert api_as(org.requester).get(f"/api/v1/teams/{org.dev.pk}/capacity/").status_code == 404
