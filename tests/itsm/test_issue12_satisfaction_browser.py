"""Issue 12, satisfaction in a real browser: the e-mail's "No" link opens the question with
"No" chosen (no sign-in), one click sends it with a comment; the requester's resolved
ticket page asks them; the Incident Manager's report shows the answer. Skipped, saying
why, where Playwright or Chromium is missing. ``TANDEM_SHOTS=/some/folder`` keeps
screenshots of the pages."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from core.models import OutboxMessage
from itsm.models import SatisfactionResponse
from tests.browser import needs_browser, sign_in
from tests.conftest import drive

pytestmark = needs_browser


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("TANDEM_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_answer_from_the_email_link_and_see_it_reported(  # type: ignore[no-untyped-def]
    org, new_incident, live_server, browser_page, transactional_db
) -> None:
    incident = drive(new_incident, org, "resolved")
    mail = OutboxMessage.objects.get(event="incident.resolved", object_id=incident.pk)
    [path] = re.findall(r"http://tandem\.test(/satisfaction/\S+\?answer=no)", mail.body)

    # the requester asked on their ticket page
    sign_in(browser_page, live_server.url, org.requester)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    assert page.is_visible("#satisfaction input[value=yes]")
    shot(page, "satisfaction-portal")

    # the e-mail's link, in a browser that is not signed in
    browser_page.clear_cookies()
    page.goto(f"{live_server.url}{path}")
    assert page.is_checked("input[value=no]")
    shot(page, "satisfaction-link")
    page.fill("#satisfaction-comment", "It took three days to hear back.")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Thank you")
    shot(page, "satisfaction-thanks")
    answer = SatisfactionResponse.objects.get(incident=incident)
    assert answer.satisfied is False and answer.comment.startswith("It took")

    sign_in(browser_page, live_server.url, org.incident_manager)
    page.goto(f"{live_server.url}/reports/satisfaction/")
    assert "It took three days" in page.inner_text("#comments")
    assert "0.0 %" in page.inner_text("#by-team")
    shot(page, "satisfaction-report")
