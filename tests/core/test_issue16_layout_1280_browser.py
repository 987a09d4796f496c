"""Issue 16: the pages the README shows fit a 1280×800 window in Debian's Chromium (with
Debian's fonts): the top bar on one line for a user with many links, and the desk's queue
inside the window (its rows scroll in their panel) rather than past its right edge."""

from __future__ import annotations

from itsm import services
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser

ONE_LINE = """() => {
  const tops = [...document.querySelectorAll('.topbar nav a')].map(a => a.offsetTop);
  return tops.length > 0 && Math.max(...tops) === Math.min(...tops);
}"""
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_the_top_bar_is_one_line_and_the_desk_fits_at_1280(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    # one title with a long unbreakable error code: the table cannot shrink below it
    code = "ERR_BANK_EXPORT_GATEWAY_TIMEOUT_0x80070005_at_PayrollExportService.run"
    for n, title in enumerate(
        ["Login loops back to the start page", f"Export fails: {code}", "P60"]
    ):
        inc = services.incident_create(
            actor=org.agent,
            requester=org.requester,
            service=org.service,
            title=title,
            impact="high",
            urgency=["high", "medium", "low"][n],
        )
        services.incident_assign(incident=inc, actor=org.agent, assignee=org.agent)
    org.developer.first_name, org.developer.last_name = "Dana", "Developer"
    org.developer.save()

    sign_in(browser_page, live_server.url, org.developer)  # the most links of any role
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/projects/")
    assert page.evaluate(ONE_LINE), "the top bar wraps at 1280 px"
    assert page.evaluate(FITS)

    sign_in(browser_page, live_server.url, org.agent)
    page.goto(f"{live_server.url}/desk/")
    page.wait_for_selector("#queue-rows tr[data-key]")
    assert page.evaluate(ONE_LINE), "the top bar wraps at 1280 px"
    assert page.evaluate(FITS), "the desk is wider than the window"
    queue = page.evaluate("document.querySelector('#queue').getBoundingClientRect().right")
    assert queue <= 1280
