"""Issue 12, bulk actions in a real browser: check a page of incidents, assign them all to
me, watch the progress bar while the job runs, then read the summary with the refusal."""

from __future__ import annotations

from pathlib import Path

from itsm import services
from itsm.models import BulkJob, Incident
from itsm.services import bulk
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser
SHOTS = Path("/tmp/shots-bulk")


def test_select_a_page_bulk_assign_see_progress_then_the_summary(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db, monkeypatch
) -> None:
    incidents = [
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Payslip {n}", impact="low"
        )
        for n in range(25)
    ]
    # One sits in another desk's queue: the agent may not work it.
    services.incident_assign(incident=incidents[3], actor=org.agent, team=org.other_desk)
    # The job goes to the worker (above the inline size); here the test is the worker, so
    # the page is seen polling before it runs.
    queued: list[int] = []
    monkeypatch.setattr("itsm.tasks.bulk_job_run.delay", queued.append)
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/desk/?queue=all")
    assert page.locator("#bulk-form").is_hidden()
    page.check("input.bulk-all")
    assert page.locator("#bulk-form").is_visible()
    assert page.inner_text("[data-bulk-count]") == "25"
    page.select_option("select[name=assign_to]", f":{org.agent.pk}")
    page.screenshot(path=str(SHOTS / "1-selected.png"))
    page.click("button[data-action=bulk-apply]")

    bar = page.locator(".bulk-progress[data-status=queued] .progress")
    bar.wait_for()
    assert "0 of 25" in page.inner_text(".bulk-progress")
    page.screenshot(path=str(SHOTS / "2-progress.png"))
    job = BulkJob.objects.get()
    assert queued == [job.pk]

    # The live server shares the test's in-memory SQLite: the page's polls wait (held by
    # the route until Playwright next runs) while the job writes, then see it finished.
    page.route("**/desk/bulk/*/", lambda route: route.continue_())
    bulk.bulk_job_run(job.pk)
    page.wait_for_selector(".bulk-summary", timeout=5000)
    page.screenshot(path=str(SHOTS / "3-summary.png"))
    text = page.inner_text(".bulk-progress")
    assert "24 succeeded" in text and "1 refused" in text
    assert f"{incidents[3].key}" in page.inner_text(".bulk-refused")
    assert f"You may not assign {incidents[3].key}." in page.inner_text(".bulk-refused")
    assert Incident.objects.filter(assignee=org.agent).count() == 24


def test_the_bar_shows_the_fields_of_the_chosen_action(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    services.incident_create(actor=org.requester, service=org.service, title="x", impact="low")
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/desk/?queue=all")
    page.check("input.bulk-pick")
    assert page.locator("select[name=assign_to]").is_visible()
    assert page.locator("input[name=problem]").is_hidden()
    assert page.locator("select[name=transition]").is_hidden()
    page.select_option("select[name=action]", "transition")
    page.select_option("select[name=transition]", "resolve")
    assert page.locator("select[name=resolution_code]").is_visible()
    assert page.locator("input[name=reason]").is_hidden()
    assert page.locator("select[name=assign_to]").is_hidden()
    page.screenshot(path=str(SHOTS / "4-resolve-fields.png"))
    # A refusal before anything runs says what to change, and keeps the selection.
    page.click("button[data-action=bulk-apply]")
    page.wait_for_selector(".bulk-error")
    assert "Resolve needs resolution notes." in page.inner_text(".bulk-error")
    assert page.locator("input.bulk-pick").is_checked()


def test_select_every_incident_matching_beyond_the_page(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db, monkeypatch
) -> None:
    """Once a page of 25 is checked, the bar offers the 30 the queue lists; choosing it
    counts 30 and the job acts on all 30. Unchecking a row takes the choice back."""
    for n in range(30):
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Payslip {n}", impact="low"
        )
    queued: list[int] = []
    monkeypatch.setattr("itsm.tasks.bulk_job_run.delay", queued.append)
    sign_in(browser_page, live_server.url, org.agent)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/desk/?queue=all")
    matching = page.locator("button[data-bulk-matching]")
    assert matching.is_hidden()
    page.check("input.bulk-all")
    assert page.inner_text("[data-bulk-count]") == "25"
    assert matching.is_visible() and "Select all 30 matching" in matching.inner_text()
    page.locator("input.bulk-pick").first.uncheck()  # not the whole page: not offered
    assert matching.is_hidden()
    page.check("input.bulk-all")
    matching.click()
    assert page.inner_text("[data-bulk-count]") == "30" and matching.is_hidden()
    page.select_option("select[name=assign_to]", f":{org.agent.pk}")
    page.click("button[data-action=bulk-apply]")
    page.locator(".bulk-progress .progress").wait_for()
    assert "0 of 30" in page.inner_text(".bulk-progress")
    job = BulkJob.objects.get()
    assert queued == [job.pk]
    page.route("**/desk/bulk/*/", lambda route: route.continue_())
    bulk.bulk_job_run(job.pk)
    page.wait_for_selector(".bulk-summary", timeout=5000)
    assert "30 succeeded" in page.inner_text(".bulk-progress")
    assert Incident.objects.filter(assignee=org.agent).count() == 30
