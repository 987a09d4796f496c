"""Issue 16, flow 1 in Chromium: an incident travels from the requester through the desk,
2nd line and development into a release that goes live, and back to the requester, each
person in their own browser, signed in through the login page, seeing it on their pages.

No Celery worker: everything a person sees here is written in the transaction of the
action that causes it (the requester's "the fix went live" row and their notification are
written by the go-live itself, ``projects.services.releases._tell_requester``); only the
e-mail copy goes through a task, and a real worker delivering outbox mail is proven by
tests/integration/test_celery_worker.py. The deploying change is set up with the services
(its CAB flow is flow 2's), so this flow starts at the portal."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from itsm.models import Incident
from projects import services as ps
from tests.browser import needs_browser
from tests.e2e.conftest_flows import People, people, project
from tests.projects.test_release_control import scheduled_change

__all__ = ["people", "project"]  # the fixtures, used by name

pytestmark = needs_browser


def test_incident_to_defect_to_release_to_confirmed_fix(  # type: ignore[no-untyped-def]
    org, project, people: People, transactional_db
) -> None:
    release = ps.release_create(
        actor=org.change_manager, project=project, version="2.3", change=scheduled_change(org)
    )
    for step in ("start_development", "start_testing"):
        release = ps.release_transition(release=release, actor=org.change_manager, name=step)

    # 1. The requester raises it on the portal.
    people.step("1")
    page = people.go(org.requester, "/portal/")
    page.click("text=Raise an incident")
    page.fill("#id_title", "Payslip shows the wrong tax code")
    page.select_option("#id_service", label="Payroll")
    page.fill("#id_description", "Since this month my payslip uses code 0T.")
    page.click("form button[type=submit]:has-text('Submit')")
    expect(page.locator("h1")).to_contain_text("Payslip shows the wrong tax code")
    key = page.locator("#ticket").get_attribute("data-ticket")
    assert key and key.startswith("INC-")
    incident_url = f"/incidents/{key}/"

    # 2. The agent finds it in the desk's queue and escalates it to 2nd line.
    people.step("2")
    page = people.go(org.agent, "/desk/")
    page.click(f"a:has-text('{key}')")
    expect(page.locator("#ticket")).to_have_attribute("data-ticket", key)
    page.click("[data-transition=escalate] > summary")
    page.fill("#escalate-reason", "Tax code tables are beyond the desk.")
    page.click("[data-submit=escalate]")
    expect(page.locator("#ticket .chips")).to_contain_text("Tier 2")

    # 3. 2nd line escalates it to development, raising the defect.
    people.step("3")
    page = people.go(org.support2, "/desk/")  # their team's queue
    page.click(f"a:has-text('{key}')")
    page.click("[data-action=to-development] > summary")
    page.fill("#dev-reason", "The 2026 tax table is wrong in the payroll code.")
    page.click("[data-action=to-development] button[type=submit]")
    panel = page.locator("#development")
    expect(panel).to_contain_text("Development sees this incident as")
    defect_key = panel.locator("a[href^='/work/']").inner_text()
    assert defect_key.startswith("DEF-")
    expect(page.locator("#ticket .chips")).to_contain_text("Tier 3")
    page.click(f"#development a:has-text('{defect_key}')")  # the defect's page shows it back
    expect(page.locator("h1")).to_contain_text(defect_key)
    expect(page.locator("table.list")).to_contain_text(key)

    # 4. The developer starts the defect and fixes it in release 2.3.
    people.step("4")
    page = people.go(org.developer, "/projects/PAY/")  # the board
    page.click(f"a:has-text('{defect_key}')")
    page.click("[data-transition=start] > summary")
    page.click("[data-transition=start] button[type=submit]")
    expect(page.locator("#status")).to_have_text(re.compile("In progress", re.I))
    page.click("#edit-panel > summary")  # planned into the release…
    page.select_option("#edit-target_release", label="PAY 2.3")
    page.click("#edit-form button[type=submit]")
    expect(page.locator("aside")).to_contain_text("PAY 2.3")
    page.click("[data-transition=fix] > summary")  # …and fixed there (its default)
    expect(page.locator("#fix-release")).to_have_value("")
    page.click("[data-transition=fix] button[type=submit]")
    expect(page.locator("aside")).to_contain_text("Fixed in")
    expect(page.locator("#status")).to_have_text(re.compile("Fixed", re.I))

    # 5. 2nd line signs off UAT on the release page, reached from the defect.
    people.step("5")
    page = people.go(org.support2, f"/work/{defect_key}/")
    page.click("aside a:has-text('PAY 2.3')")
    page.click("button[data-action=sign-off-uat]")
    expect(page.locator("aside")).to_contain_text("signed off by")

    # 6. The Change Manager readies the release and takes it live through the gate.
    people.step("6")
    page = people.go(org.change_manager, release.get_absolute_url())
    page.click("button[data-action=ready]")
    expect(page.locator("#gate h2")).to_contain_text("open")
    page.click("button[data-action=go-live]")
    expect(page.locator(".chips")).to_contain_text("live since")

    # 7. The developer, whom the incident is with at tier 3, resolves it now the fix is live.
    people.step("7")
    page = people.go(org.developer, incident_url)
    expect(page.locator("#timeline")).to_contain_text("the fix went live")
    page.click("[data-transition=resolve] > summary")
    page.fill("#resolve-notes", "Fixed in Payroll 2.3, live today.")
    page.click("[data-submit=resolve]")
    expect(page.locator("#status")).to_have_text("Resolved")

    # 8. The requester sees the fix announced, and confirms it.
    people.step("8")
    page = people.go(org.requester, "/portal/")
    row = page.locator(f"tr:has(a:has-text('{key}'))")
    expect(row).to_contain_text("Please confirm")
    page.click("a.bell")  # the announcement, in the bell
    notice = page.locator("[data-testid=notifications] li", has_text="The fix is live")
    expect(notice).to_contain_text(key)
    notice.locator("button.linklike").click()
    expect(page.locator("#ticket")).to_have_attribute("data-ticket", key)
    expect(page.locator("#timeline")).to_contain_text("the fix went live")
    expect(page.locator("#timeline")).to_contain_text("The fix is live in PAY 2.3.")
    expect(page.locator("#status-line")).to_contain_text("Please confirm it is fixed")
    assert defect_key not in page.content()  # the requester is not told internal keys
    page.click("[data-transition=close] > summary")
    page.click("[data-submit=close]")
    expect(page.locator("#status")).to_have_text("Closed")

    assert Incident.objects.get(number=int(key.split("-")[1])).status == "closed"
    people.assert_clean()
