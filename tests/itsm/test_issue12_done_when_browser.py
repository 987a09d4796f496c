"""Issue 12, Done when, in Debian's Chromium: an agent takes an incident, replies to it
with a canned reply and resolves it in at most 5 clicks and with no full page load (a
marker set on the window after load survives, and the main frame never navigates). The
reply box is reached with the `r` shortcut and the reply picked with `;;` and Enter, as a
JSM agent uses canned responses from the keyboard; choosing the resolution code counts as
a click. (The live P1, the bulk assign, the role homes and the streamed export have their
own tests: test_issue12_live_queue_browser, test_issue12_bulk(_browser),
test_issue12_homes_browser, bench/export_csv.py.)"""

from __future__ import annotations

import os

from core.models import AuditEvent, Comment
from itsm import services
from itsm.models import Incident
from itsm.services import canned
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser

SHOTS = os.environ.get("TANDEM_SHOTS", "")


def test_take_canned_reply_and_resolve_in_five_clicks_without_a_page_load(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    org.requester.first_name = "Rita"
    org.requester.save()
    canned.canned_reply_create(
        actor=org.agent,
        title="Found the cause",
        body="Hello {{ requester.first_name }}, we found the cause of {{ ticket.key }}.",
        team=org.desk,
    )
    incident = services.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payslip shows wrong tax code",
        impact="high",
        urgency="high",
    )
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("window.__marker = 1")
    loads: list[str] = []
    main = page.main_frame
    page.on("framenavigated", lambda f: loads.append(f.url) if f == main else None)
    clicks = 0

    page.click("button[data-action=take]")
    clicks += 1
    page.wait_for_selector("#status.st-assigned")

    page.locator("body").press("r")  # the reply box, on its public side
    assert page.evaluate("document.activeElement.id") == "comment-body"
    page.keyboard.type(";;")
    page.wait_for_selector("[data-canned-panel]:not([hidden])")
    page.keyboard.type("found")
    page.keyboard.press("Enter")
    assert page.locator("#comment-body").input_value() == (
        f"Hello Rita, we found the cause of {incident.key}."
    )
    page.click("button[data-action=comment]")
    clicks += 1
    page.wait_for_selector(".timeline li.comment >> text=we found the cause")

    page.click("[data-transition=resolve] > summary")
    clicks += 1
    page.select_option("#resolve-code", "fixed")
    clicks += 1
    page.fill("#resolve-notes", "Corrected the tax table.")
    page.click("[data-submit=resolve]")
    clicks += 1
    page.wait_for_selector("#status.st-resolved")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/issue12-resolved.png", full_page=True)

    assert clicks <= 5
    assert page.evaluate("window.__marker") == 1 and loads == []
    done = Incident.objects.get(pk=incident.pk)
    assert done.status == "resolved" and done.assignee == org.agent
    reply = Comment.objects.get(object_id=incident.pk, content_type__model="incident")
    assert reply.public and reply.body.startswith("Hello Rita")
    actions = list(
        AuditEvent.objects.filter(object_id=incident.pk, content_type__model="incident")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == ["assign", "start", "resolve"]
