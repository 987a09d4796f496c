"""Issue 12 in Chromium: each role signs in, opens Tandem and lands on its home; the bell
shows the unread count and leads to the notifications. Screenshots of each page go to
/tmp/shots-homes/ for a person to look at."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.models import Notification
from core.roles import Role
from itsm import services
from itsm.models import Incident
from projects.models import Project, Release
from sla.models import SlaClock
from tests.browser import needs_browser, sign_in
from tests.factories import UserFactory

pytestmark = needs_browser
SHOTS = Path("/tmp/shots-homes")


def _data(org, project_manager) -> None:  # type: ignore[no-untyped-def]
    project = Project.objects.create(
        code="PAY", name="Payroll", team=org.dev, project_manager=project_manager
    )
    project.services.add(org.service)
    for n, (title, major) in enumerate(
        [("Payroll run fails for all staff", True), ("Payslip PDF blank", False)]
    ):
        inc = services.incident_create(
            actor=org.requester, service=org.service, title=title, impact="high", urgency="high"
        )
        Incident.objects.filter(pk=inc.pk).update(major_incident=major, team_id=org.support.pk)
        SlaClock.objects.filter(object_id=inc.pk, target="response").update(
            breached=n == 0, fired=75
        )
    for version, state in [("2.3", "testing"), ("2.4", "development"), ("2.2", "awaiting_go_live")]:
        r = Release.objects.create(
            project=project,
            version=version,
            planned_date=date(2026, 12, 18),
            original_planned_date=date(2026, 12, 11) if version == "2.4" else None,
        )
        Release.objects.filter(pk=r.pk).update(status=state)


def test_each_role_lands_on_its_home_in_chromium(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    SHOTS.mkdir(exist_ok=True)
    release_manager = UserFactory(username="release_manager", roles=[Role.RELEASE_MANAGER])
    project_manager = UserFactory(username="project_manager", roles=[Role.PROJECT_MANAGER])
    _data(org, project_manager)
    Notification.objects.create(
        user=org.incident_manager, event="incident.reply", family="tickets", subject="Hello"
    )
    homes = [
        (org.agent, "/desk/", "agent"),
        (org.support2, "/home/support/", "second-line"),
        (org.developer, "/my-work/", "developer"),
        (org.incident_manager, "/home/incidents/", "incident-manager"),
        (org.problem_manager, "/home/problems/", "problem-manager"),
        (org.change_manager, "/home/changes/", "change-manager"),
        (release_manager, "/home/releases/", "release-manager"),
        (project_manager, "/home/projects/", "project-manager"),
        (org.requester, "/portal/", "requester"),
    ]
    page = browser_page.new_page()
    for user, path, name in homes:
        sign_in(browser_page, live_server.url, user)
        page.goto(f"{live_server.url}/")
        assert page.url == f"{live_server.url}{path}", (name, page.url)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    sign_in(browser_page, live_server.url, org.incident_manager)
    page.goto(f"{live_server.url}/")
    assert page.inner_text("[data-testid=bell-count]") == "1"
    page.click("a.bell")
    page.wait_for_selector("[data-testid=notifications]")
    page.screenshot(path=str(SHOTS / "notifications.png"))
    page.click("text=Mark all read")
    page.wait_for_selector("[data-testid=notifications]")
    assert page.locator("[data-testid=bell-count]").count() == 0
