"""Issue 16 in Chromium: the Incident Manager follows the Dashboard link of their home; every
chart is drawn by Chart.js from its JSON under the CSP (no console error), and its table
view holds the numbers."""

from __future__ import annotations

from dashboards.figures import DASHBOARDS
from dashboards.tasks import dashboards_collect
from itsm import services
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser


def test_the_dashboard_draws_every_chart_in_chromium(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    for title in ("Payroll run fails", "Payslip blank"):
        services.incident_create(actor=org.requester, service=org.service, title=title)
    dashboards_collect()  # what Celery beat runs every minute: the roll-ups, then the figures
    sign_in(browser_page, live_server.url, org.incident_manager)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/home/incidents/")
    page.click("[data-testid=dashboard-link]")
    page.wait_for_selector("[data-testid=figure-top_services]")
    assert page.url.startswith(f"{live_server.url}/dashboards/incidents/")
    figures = DASHBOARDS["incidents"].figures
    drawn = page.wait_for_function(
        "document.querySelectorAll('canvas[data-drawn=true]').length"
        f" === {len(figures)} && document.querySelectorAll('canvas[data-drawn=true]').length"
    )
    assert drawn == len(figures)
    bars = page.evaluate(
        "Chart.getChart(document.getElementById('chart-top_services')).data.datasets[0].data"
    )
    assert bars == [2]
    page.click("[data-testid=table-top_services] summary")
    assert "payroll\t2" in page.inner_text("[data-testid=table-top_services] table").lower()
    page.select_option("#id_period", "30")
    page.click("[data-testid=dashboard-filters] button")
    page.wait_for_selector("canvas[data-drawn=true]")
    assert "period=30" in page.url
    errors = [
        line
        for lines in browser_page.console_lines.values()
        for line in lines
        if line.startswith(("error", "pageerror"))
    ]
    assert errors == []
