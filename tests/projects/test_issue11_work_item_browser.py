"""Issue 11, the work item page in a real browser: the Edit form saves in place (HTMX
swaps the page's main part, no navigation) and a refused edit keeps the form with its
message. Skipped, saying why, where Playwright or Chromium is missing."""

from __future__ import annotations

from projects import services as ps
from projects.models import Project, WorkItem
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser


def test_edit_in_place_and_refused_edit_keeps_the_form(  # type: ignore[no-untyped-def]
    org,
    live_server,
    browser_page,
    transactional_db,
) -> None:
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    sign_in(browser_page, live_server.url, org.developer)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/work/{item.key}/")
    page.evaluate("window.__samePage = true")
    page.click("#edit-panel summary")
    page.fill("#edit-title", "Renamed in place")
    page.fill("#edit-labels", "Login, UI")
    page.click("#edit-form button[type=submit]")
    page.wait_for_function("document.querySelector('h1').innerText.includes('Renamed in place')")
    assert page.evaluate("window.__samePage") is True  # swapped, not reloaded
    assert "login" in page.inner_text(".chips") and "ui" in page.inner_text(".chips")
    assert WorkItem.objects.get(pk=item.pk).title == "Renamed in place"

    page.click("#edit-panel summary")
    page.evaluate("document.getElementById('edit-title').removeAttribute('required')")
    page.fill("#edit-title", "")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-error")
    assert page.get_attribute("#edit-panel", "open") is not None
    assert page.evaluate("window.__samePage") is True
    assert WorkItem.objects.get(pk=item.pk).title == "Renamed in place"
