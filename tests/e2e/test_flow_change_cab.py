"""Issue 16, flow 2 in Chromium: a normal change from its draft through the risk
assessment and a CAB of two members chosen in the browser, each approving on their own
"My approvals" page, to a schedule that a change freeze refuses with the page's message
and then a schedule outside the freeze. Each person is in their own browser, signed in
through the login page.

No Celery worker: what each person sees (the change's status, its approvals, the pending
approval on a member's page, the freeze message) is written or computed in the request;
only the notices' e-mail copies go through tasks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from playwright.sync_api import expect

from itsm.models import Change, FreezeWindow
from tests.browser import needs_browser
from tests.e2e.conftest_flows import People, people

__all__ = ["people"]  # the fixture, used by name

pytestmark = needs_browser


def _local(moment: datetime) -> str:
    """What a person types into a datetime-local field, in Tandem's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_normal_change_through_risk_cab_freeze_and_schedule(  # type: ignore[no-untyped-def]
    org, people: People, transactional_db
) -> None:
    monday = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=14
    )
    FreezeWindow.objects.create(
        name="Payroll run freeze", start=monday, end=monday + timedelta(days=3), reason="Payday"
    )

    # 1. The developer drafts the change and submits it.
    people.step("1")
    page = people.go(org.developer, "/changes/new/")
    page.fill("#new-title", "Upgrade the payroll database")
    page.select_option("#new-type", "normal")
    page.fill("#new-reason", "The database version goes out of support.")
    page.fill("#new-implementation_plan", "Run the upgrade script.")
    page.fill("#new-backout_plan", "Restore last night's snapshot.")
    page.fill("#new-test_plan", "Run a test payroll.")
    page.select_option("#new-services", label="Payroll")
    page.click("form button[type=submit]:has-text('Save draft')")
    expect(page.locator("#status")).to_have_text("Draft")
    key = page.locator("h1").inner_text().split(" ")[0]
    assert key.startswith("CHG-")
    change_url = f"/changes/{key}/"
    page.click("[data-transition=submit] > summary")
    page.click("[data-transition=submit] button[type=submit]")
    expect(page.locator("#status")).to_have_text("Submitted")

    # 2. The Change Manager assesses its risk with the questionnaire.
    people.step("2")
    page = people.go(org.change_manager, "/changes/")
    page.click(f"a:has-text('{key}')")
    page.click("[data-transition=assess] > summary")
    page.locator("[data-transition=assess] input[type=checkbox]").first.check()
    page.click("[data-transition=assess] button[type=submit]")
    expect(page.locator("#status")).to_have_text("Assessment")
    expect(page.locator(".chips")).not_to_contain_text("Risk: —")

    # 3. …and asks two CAB members, chosen in the browser, to approve it.
    people.step("3")
    page.click("[data-transition=request_approval] > summary")
    page.select_option(
        "#request_approval-approvers",
        label=[org.incident_manager.get_full_name(), org.problem_manager.get_full_name()],
    )
    page.click("[data-transition=request_approval] button[type=submit]")
    expect(page.locator("#status")).to_have_text("Awaiting approval")
    approvals = page.locator("table.list", has_text="Approver")
    for member in (org.incident_manager, org.problem_manager):
        expect(approvals.locator("tr", has_text=member.get_full_name())).to_contain_text("Pending")

    # 4. Each member approves it on their own approvals page.
    people.step("4")
    for member in (org.incident_manager, org.problem_manager):
        page = people.go(member, "/approvals/")
        row = page.locator("tr", has_text=key)
        expect(row).to_contain_text("Upgrade the payroll database")
        row.locator("input[name=comment]").fill("Fine with the back-out plan.")
        row.locator("button[value=approved]").click()
        expect(page.locator("tr", has_text=key)).to_have_count(0)
    page = people.go(org.change_manager, change_url)
    approvals = page.locator("table.list", has_text="Approver")
    for member in (org.incident_manager, org.problem_manager):
        expect(approvals.locator("tr", has_text=member.get_full_name())).to_contain_text("Approved")

    # 5. A window inside the freeze is refused with the page's message…
    people.step("5")
    page.click("[data-transition=schedule] > summary")
    page.fill("#schedule-planned_start", _local(monday + timedelta(days=1, hours=20)))
    page.fill("#schedule-planned_end", _local(monday + timedelta(days=1, hours=22)))
    page.click("[data-transition=schedule] button[type=submit]")
    expect(page.locator("#action-error")).to_contain_text("The window falls in a freeze")
    expect(page.locator("#action-error")).to_contain_text("Payroll run freeze")
    expect(page.locator("#status")).to_have_text("Awaiting approval")
    expect(page.locator("[data-transition=schedule]")).to_have_attribute("open", "")
    # the refusal is a 409, which Chromium's console reports as a failed load
    people.expected_console.append("the server responded with a status of 409 (Conflict)")

    # 6. …and one after it is taken.
    people.step("6")
    page.fill("#schedule-planned_start", _local(monday + timedelta(days=4, hours=20)))
    page.fill("#schedule-planned_end", _local(monday + timedelta(days=4, hours=22)))
    page.click("[data-transition=schedule] button[type=submit]")
    expect(page.locator("#status")).to_have_text("Scheduled")
    expect(page.locator("#action-error")).to_have_count(0)
    after = timezone.localtime(monday + timedelta(days=4, hours=20))
    expect(page.locator("aside")).to_contain_text(after.strftime("%d %b %Y 20:00"))

    change = Change.objects.get(number=int(key.split("-")[1]))
    assert change.status == "scheduled" and change.planned_start > monday + timedelta(days=3)
    people.assert_clean()
