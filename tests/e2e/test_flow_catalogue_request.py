"""Issue 16, flow 3 in Chromium: a requester orders a catalogue item that needs their
manager's approval; the manager approves it on "My approvals"; the fulfilment team starts
it and works its tasks on the request page (HTMX, no page load) until the request is
fulfilled, which the requester then sees. Each person is in their own browser, signed in
through the login page.

No Celery worker: the approval, the tasks and the fulfilment are written in the requests
that make them, and the pages read them back; only the notices' e-mail copies go through
tasks."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from itsm.models import ServiceRequest
from tests.browser import needs_browser
from tests.e2e.conftest_flows import People, people
from tests.itsm.test_requests import laptop

__all__ = ["laptop", "people"]  # the fixtures, used by name

pytestmark = needs_browser


def test_catalogue_request_approved_and_fulfilled_task_by_task(  # type: ignore[no-untyped-def]
    org, laptop, people: People, transactional_db
) -> None:
    # 1. The requester orders a laptop from the catalogue.
    people.step("1")
    page = people.go(org.requester, "/catalogue/")
    row = page.locator("tr", has_text="New laptop")
    expect(row).to_contain_text("approval: your manager")
    row.locator("a.btn:has-text('Order')").click()
    page.select_option("#f-model", 'Developer 16"')
    page.fill("#f-needed_by", (timezone.localdate() + timedelta(days=30)).isoformat())
    page.fill("#f-justification", "A new starter in payroll.")
    page.click("form button[type=submit]:has-text('Submit request')")
    expect(page.locator("#status")).to_have_text("Awaiting approval")
    key = page.locator("#ticket").get_attribute("data-ticket")
    assert key and key.startswith("REQ-")
    approvals = page.locator(".panel", has_text="Approvals")
    expect(approvals).to_contain_text(org.change_manager.get_full_name())
    expect(approvals).to_contain_text("Pending")

    # 2. Their manager approves it on their approvals page.
    people.step("2")
    page = people.go(org.change_manager, "/approvals/")
    row = page.locator("tr", has_text=key)
    expect(row).to_contain_text("New laptop")
    row.locator("button[value=approved]").click()
    expect(page.locator("tr", has_text=key)).to_have_count(0)

    # 3. The fulfilment team finds it in its requests, starts it and does each task.
    people.step("3")
    page = people.go(org.support2, "/requests/")
    page.click(f"a:has-text('{key}')")
    expect(page.locator("#status")).to_have_text("Approved")
    page.evaluate("window.__stayed = 1")  # HTMX answers in place: no page load below
    page.click("button[data-transition=start_fulfilment]")
    expect(page.locator("#status")).to_have_text("Fulfilling")
    tasks = page.locator("tr[data-task]")
    expect(tasks).to_have_count(2)
    for title in ("Order the laptop", "Image and hand over"):
        task = page.locator("tr[data-task]", has_text=title)
        task.locator("button:has-text('Start')").click()
        expect(page.locator("tr[data-task]", has_text=title)).to_contain_text("In progress")
        page.locator("tr[data-task]", has_text=title).locator("button:has-text('Done')").click()
        expect(page.locator("tr[data-task]", has_text=title)).to_contain_text("Done")
    expect(page.locator("#status")).to_have_text("Fulfilled")
    assert page.evaluate("window.__stayed") == 1

    # 4. The requester sees it fulfilled, each task done.
    people.step("4")
    page = people.go(org.requester, "/requests/")
    page.click(f"a:has-text('{key}')")
    expect(page.locator("#status")).to_have_text("Fulfilled")
    expect(page.locator(".panel", has_text="Approvals")).to_contain_text("Approved")
    expect(page.locator("#timeline")).to_contain_text("Every task is finished")

    request = ServiceRequest.objects.get(number=int(key.split("-")[1]))
    assert request.status == "fulfilled" and request.approved_at and request.fulfilled_at
    assert {t.status for t in request.tasks.all()} == {"done"}
    people.assert_clean()
