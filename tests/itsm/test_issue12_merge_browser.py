"""Issue 12, the Linked incidents panel in Chromium: a major incident's page adds a child
in place (no full page load; a refused link says why, in place) and lists it with its
state; a duplicate's page merges it into the master and lands on
the master, which lists what was merged in. Screenshots go to ``/tmp/shots-merge/``."""

from __future__ import annotations

from pathlib import Path

from itsm import services
from itsm.models import Incident
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser
SHOTS = Path("/tmp/shots-merge")


def test_child_and_merge_from_the_incident_page(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    SHOTS.mkdir(exist_ok=True)

    def raise_(title: str, requester, major: bool = False) -> Incident:  # type: ignore[no-untyped-def]
        return services.incident_create(
            actor=org.agent,
            requester=requester,
            service=org.service,
            title=title,
            major_incident=major,
        )

    parent = raise_("Payroll is down for everyone", org.requester, major=True)
    child = raise_("Cannot open my payslip", org.requester2)
    dup = raise_("Payroll page blank", org.requester2)
    services.incident_comment(incident=dup, actor=org.requester2, body="Blank since 9 am.")
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()

    page.goto(f"{live_server.url}{parent.get_absolute_url()}")
    page.evaluate("window.__marker = 1")  # survives only if no full page load happens
    page.click("[data-links-form=relate] summary")
    page.fill("#relate-other", "INC-4242")
    page.click("[data-links-form=relate] button[type=submit]")
    page.wait_for_selector("[data-links-form=relate] [data-form-error]")
    assert "No incident INC-4242" in page.inner_text("#incident-links")
    assert page.input_value("#relate-other") == "INC-4242"
    page.click("[data-links-form=child_add] summary")
    page.fill("#child-other", child.key)
    page.click("[data-links-form=child_add] button[type=submit]")
    page.wait_for_selector(f"[data-child='{child.key}']")
    assert page.evaluate("window.__marker") == 1
    page.locator("#incident-links").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "major-incident-children.png"))

    page.goto(f"{live_server.url}{dup.get_absolute_url()}")
    page.click("[data-links-form=merge] summary")
    page.fill("#merge-master", "INC-99999")
    page.click("[data-links-form=merge] button[type=submit]")
    page.wait_for_selector("[data-links-form=merge] [data-form-error]")
    page.locator("#incident-links").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "merge-refused.png"))
    assert page.input_value("#merge-master") == "INC-99999"
    page.fill("#merge-master", parent.key)
    page.click("[data-links-form=merge] button[type=submit]")
    page.wait_for_selector(f"[data-duplicate='{dup.key}']")
    assert page.url.endswith(parent.get_absolute_url())
    page.locator("#incident-links").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "master-after-merge.png"))
    dup.refresh_from_db()
    assert dup.status == "closed" and dup.duplicate_of_id == parent.pk
