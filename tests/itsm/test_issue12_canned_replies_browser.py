"""Issue 12, canned replies in a real browser: typing ``;;`` in the incident's reply box
opens the picker, a few letters filter it, Enter puts the reply filled in for this incident
where the ``;;`` was, and Send posts it."""

from __future__ import annotations

from pathlib import Path

from core.models import Comment
from itsm.services import canned
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser
SHOTS = Path("/tmp/shots-canned")


def test_typing_two_semicolons_picks_and_inserts_a_filled_reply(  # type: ignore[no-untyped-def]
    org,
    new_incident,
    live_server,
    browser_page,
    transactional_db,
) -> None:
    org.requester.first_name = "Rita"
    org.requester.save()
    canned.canned_reply_create(
        actor=org.agent,
        title="Acknowledge",
        body="Hello {{ requester.first_name }}, {{ ticket.key }} is with the desk.",
        team=org.desk,
    )
    canned.canned_reply_create(actor=org.agent, title="Password reset", body="Reset done.")
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}{new_incident.get_absolute_url()}")
    box = page.locator("#comment-body")
    box.click()
    box.press_sequentially("Hi! ;;")
    page.wait_for_selector("[data-canned-panel]:not([hidden])")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "incident-picker.png"))
    page.keyboard.type("ackn")
    assert page.locator("[data-canned-list] li").count() == 1
    page.keyboard.press("Enter")
    assert page.locator("[data-canned-panel]").is_hidden()
    expected = f"Hi! Hello Rita, {new_incident.key} is with the desk."
    assert box.input_value() == expected
    assert page.evaluate("document.activeElement.id") == "comment-body"
    # the button opens it too; Escape closes it and gives the text back its focus
    page.click("[data-canned-open]")
    page.wait_for_selector("[data-canned-panel]:not([hidden])")
    page.keyboard.press("Escape")
    assert page.locator("[data-canned-panel]").is_hidden()
    # @mentions still suggest people beside the picker
    box.press_sequentially(" @supp")
    page.wait_for_selector(".mention-suggestions:not([hidden]) li")
    box.press("Enter")
    expected += " @support2"
    assert box.input_value() == expected + " "
    page.click("form:has(#comment-body) button[type=submit]")
    page.locator(".timeline").get_by_text(expected).first.wait_for()  # posted, shown
    assert Comment.objects.get().body == expected
    # the management page, and its form kept as posted with what to change
    page.goto(f"{live_server.url}/desk/canned/")
    page.screenshot(path=str(SHOTS / "canned-list.png"))
    page.goto(f"{live_server.url}/desk/canned/new/")
    page.fill("#canned-title", "Typo")
    page.fill("#canned-body", "Hi {{ requester.frist_name }}")
    page.click("button[type=submit].btn-primary")
    assert "Unknown placeholder {{ requester.frist_name }}" in page.inner_text(".field-error")
    assert page.input_value("#canned-body") == "Hi {{ requester.frist_name }}"
    page.screenshot(path=str(SHOTS / "canned-form-error.png"))
