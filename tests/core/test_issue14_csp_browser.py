"""Issue 14: the Content-Security-Policy (no inline script, no eval) holds in a real
browser. The main pages — desk, incident, board with drag and drop, work item edit,
knowledge, problems, the API docs — are driven in Chromium with the header on and
report no violation, neither as a ``securitypolicyviolation`` event nor in the console;
the behaviour moved out of inline handlers into static/js/tandem.js still works."""

from __future__ import annotations

from typing import Any

from itsm.models import Incident
from projects import services as ps
from projects.models import Project, WorkItem
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser

# Playwright's init scripts run through the DevTools protocol, outside the page's CSP.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " blocked " + e.blockedURI + " at " +
    e.sourceFile + ":" + e.lineNumber);
});
"""


def _violations(context: Any, page: Any) -> list[str]:
    seen = list(page.evaluate("window.__csp || []"))
    for line in context.console_lines.get(page, []):
        if "Content Security Policy" in line or "Refused to" in line:
            seen.append(line)
    return seen


def _visit(context: Any, page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")


def test_main_pages_run_under_the_csp_without_violations(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db, new_incident
) -> None:
    browser_page.add_init_script(RECORD_VIOLATIONS)
    base = live_server.url
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    other = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="b")

    # The developer: board (drag and drop, through board.js), work item edit in place.
    sign_in(browser_page, base, org.developer)
    page = browser_page.new_page()
    _visit(browser_page, page, f"{base}/projects/PAY/")
    page.locator(f'.card[data-item="{item.key}"]').drag_to(
        page.locator('.cards[data-state="triaged"]')
    )
    page.wait_for_function("document.querySelector('#board-message').dataset.outcome")
    assert WorkItem.objects.get(pk=item.pk).status == "triaged"
    assert _violations(browser_page, page) == []

    _visit(browser_page, page, f"{base}/work/{other.key}/")
    page.click("#edit-panel summary")
    page.fill("#edit-title", "Renamed in place")
    page.fill("#edit-labels", "Login, UI")
    page.click("#edit-form button[type=submit]")
    page.wait_for_function("document.querySelector('h1').textContent.includes('Renamed')")
    # A refused edit (4xx) keeps the form with its message: data-swap-errors, not hx-on.
    page.click("#edit-panel summary")
    page.evaluate("document.getElementById('edit-title').removeAttribute('required')")
    page.fill("#edit-title", "")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-error")
    assert page.get_attribute("#edit-panel", "open") is not None
    assert _violations(browser_page, page) == []

    # The agent: desk, the incident page, problems (status ticks submit), knowledge, API docs.
    sign_in(browser_page, base, org.agent)
    page = browser_page.new_page()
    _visit(browser_page, page, f"{base}/desk/")
    assert _violations(browser_page, page) == []
    incident = Incident.objects.get(pk=new_incident.pk)
    _visit(browser_page, page, f"{base}{incident.get_absolute_url()}")
    assert _violations(browser_page, page) == []
    _visit(browser_page, page, f"{base}/problems/")
    with page.expect_navigation():
        page.locator(".toggles label", has=page.locator("[data-autosubmit]")).first.click()
    assert "status=" in page.url
    assert _violations(browser_page, page) == []
    _visit(browser_page, page, f"{base}/kb/")
    assert _violations(browser_page, page) == []
    _visit(browser_page, page, f"{base}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert _violations(browser_page, page) == []


def test_inline_script_is_refused(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    """The policy is really enforced: an inline script added to a page does not run."""
    browser_page.add_init_script(RECORD_VIOLATIONS)
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    _visit(browser_page, page, f"{live_server.url}/kb/")
    page.evaluate(
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s);"
    )
    assert page.evaluate("window.__ran === undefined")
    assert any("script-src" in v for v in _violations(browser_page, page))
