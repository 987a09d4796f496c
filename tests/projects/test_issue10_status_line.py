"""Issue 10 #14: the requester reads one sentence about their incident, decided once from
the current state of the incident, its problem, its defect and the defect's release."""

from __future__ import annotations

from django.test import Client

from itsm import services as itsm
from itsm.services import problems as problem_services
from itsm.status import requester_status_line
from projects import services as ps
from projects.models import Release, WorkItem
from tests.conftest import api_as, drive

OLD_PHRASES = (
    "Our developers are fixing this",
    "This is a known issue we are working on",
    "Fixed in release",
)


def _requester_page(org, inc) -> str:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.requester)
    res = c.get(inc.get_absolute_url())
    assert res.status_code == 200
    return res.content.decode()


def test_one_sentence_from_the_linked_records(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #14: after the problem was resolved and the fix went live, the page said
    "Our developers are fixing this", "Fixed in release … · Live" and "This is a known
    issue we are working on" at once."""
    inc = drive(
        itsm.incident_create(actor=org.requester, service=org.service, title="Export fails"),
        org,
        "in_progress",
    )
    assert requester_status_line(inc) == "We are working on your incident."
    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Exports", service=org.service, incidents=[inc]
    )
    problem = problem_services.problem_investigate(problem=problem, actor=org.problem_manager)
    inc.refresh_from_db()
    assert requester_status_line(inc) == "This is a known issue we are working on."

    defect = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Raise the limit"
    )
    ps.defect_link_incident(item=defect, actor=org.developer, incident=inc)
    defect = ps.work_start(item=defect, actor=org.developer)
    assert requester_status_line(inc) == "Our developers are working on a fix."
    defect = ps.work_fix(item=defect, actor=org.developer, release=release)
    assert requester_status_line(inc) == f"A fix is ready and will ship in release {release}."

    # the fix goes live and the problem is resolved (statuses set directly: this test is
    # about what the page says of them, not about going live)
    problem_services.problem_resolve(
        problem=problem, actor=org.problem_manager, resolution_notes="Limit raised"
    )
    Release.objects.filter(pk=release.pk).update(status="live")
    WorkItem.objects.filter(pk=defect.pk).update(status="released")
    inc.refresh_from_db()
    expected = f"The fix is live in release {release}; we are checking it solved your issue."
    assert requester_status_line(inc) == expected

    html = _requester_page(org, inc)
    assert html.count(expected) == 1
    for phrase in OLD_PHRASES:
        assert phrase not in html
    assert api_as(org.requester).get(f"/api/v1/incidents/{inc.key}/").json()["status_line"] == (
        expected
    )

    # rolled back: the defect is reworked; no release is promised any more
    Release.objects.filter(pk=release.pk).update(status="rolled_back")
    WorkItem.objects.filter(pk=defect.pk).update(status="in_progress")
    assert requester_status_line(inc) == "Our developers are working on a fix."

    itsm.incident_resolve(
        incident=inc, actor=org.agent, resolution_code="fixed", resolution_notes="Fixed."
    )
    inc.refresh_from_db()
    html = _requester_page(org, inc)
    assert "We have resolved this incident." in html
    assert "Our developers are working on a fix." not in html
