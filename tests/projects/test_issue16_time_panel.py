"""Issue 16: an incident page shows no empty time box to whoever may not log time on it
and nobody has; once time is logged, everyone who sees the page sees how much."""

from __future__ import annotations

from django.test import Client

from itsm import services
from projects.capacity import time_log


def _page(user, incident) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    res = client.get(f"/incidents/{incident.key}/")
    assert res.status_code == 200
    return res.content.decode()


def test_no_time_box_without_time_or_the_right_to_log_it(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    assert 'id="tl-hours"' in _page(org.agent, new_incident)  # the agent works it: the form
    services.incident_escalate(incident=new_incident, actor=org.agent, reason="app knowledge")
    # with 2nd line now: the desk agent may not log time on it, and nobody has
    assert 'id="time-log"' not in _page(org.agent, new_incident)

    time_log(actor=org.incident_manager, target=new_incident, hours="1.5", note="analysis")
    page = _page(org.agent, new_incident)
    assert 'id="time-log"' in page and "1.5" in page and "logged so far" in page
