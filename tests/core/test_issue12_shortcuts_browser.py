"""Issue 12, keyboard shortcuts in a real browser (static/js/keys.js): ``?`` lists them and
Esc closes the list; in the queue j/k move the selection and Enter opens the ticket; ``/``
goes to the search and keys typed there stay there; ``a`` assigns the selected row to me
and the selection survives the reload; on the ticket ``i`` and ``r`` put the
cursor in the reply box set to internal or public, ``e`` opens the edit form and ``a``
assigns the ticket to me."""

from __future__ import annotations

import re
from pathlib import Path

from itsm import services
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser
SHOTS = Path("/tmp/shots-export")


def test_queue_and_ticket_shortcuts_in_chromium(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    first, second, third = (
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Payslip {n}", impact="medium"
        )
        for n in ("one", "two", "three")
    )
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/desk/?queue=all&ordering=number")
    rows = page.locator("tr[data-key]")
    assert rows.count() == 3

    page.keyboard.press("?")
    overlay = page.locator("#shortcuts")
    overlay.wait_for(state="visible")
    assert "Assign the selected ticket to me" in overlay.inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "shortcuts-overlay.png"))
    page.keyboard.press("Escape")
    overlay.wait_for(state="hidden")

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator("tr.kbd-selected")
    assert selected.count() == 1
    assert selected.get_attribute("data-key") == second.key
    page.screenshot(path=str(SHOTS / "queue-selection.png"))
    page.keyboard.press("x")  # ticks the selected row for a bulk action
    assert page.locator(f'tr[data-key="{second.key}"] input[type="checkbox"]').is_checked()
    page.keyboard.press("j")  # the checkbox does not swallow the keys
    assert page.locator("tr.kbd-selected").get_attribute("data-key") == third.key
    page.keyboard.press("k")

    page.keyboard.press("/")
    search = page.locator('input[name="q"]')
    assert search.evaluate("el => el === document.activeElement")
    page.keyboard.type("jk")  # typed into the search, not moving the selection
    assert search.input_value() == "jk"
    assert page.locator("tr.kbd-selected").get_attribute("data-key") == second.key
    page.keyboard.press("Escape")
    page.locator("h3").first.click()  # leave the field: keys are shortcuts again
    page.wait_for_load_state("networkidle")  # the search's own live filtering
    search.fill("")
    page.locator("h3").first.click()
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/desk/?queue=all&ordering=number")
    selected = page.locator("tr.kbd-selected")
    assert selected.get_attribute("data-key") == second.key  # kept across the reload
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("a")  # the selected row's Assign to me, back to the queue
    third.refresh_from_db()
    assert third.assignee_id == org.agent.pk
    assert page.locator("tr.kbd-selected").get_attribute("data-key") == third.key
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/incidents/{first.key}/$"))

    page.keyboard.press("i")
    box = page.locator("#comment-body")
    assert box.evaluate("el => el === document.activeElement")
    assert page.locator('input[name="visibility"][value="internal"]').is_checked()
    box.evaluate("el => el.blur()")
    page.keyboard.press("r")
    assert box.evaluate("el => el === document.activeElement")
    assert page.locator('input[name="visibility"][value="public"]').is_checked()
    box.evaluate("el => el.blur()")

    page.keyboard.press("e")
    assert page.locator('form[action$="/edit/"]').is_visible()
    page.locator("h1").first.click()

    page.keyboard.press("a")
    page.wait_for_load_state("load")
    page.wait_for_selector('[data-action="take"]', state="detached")
    first.refresh_from_db()
    assert first.assignee_id == org.agent.pk
    second.refresh_from_db()
    assert second.assignee_id is None
