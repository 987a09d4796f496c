"""Issue 16, flow 4, in Chromium: while a requester types an incident's title on the
portal's form a matching article is suggested; they open it, press "This solved my
problem", and a deflection is recorded with what they typed: no incident is raised."""

from __future__ import annotations

from itsm.models import Incident
from knowledge import services as ks
from knowledge.models import ArticleUse
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser


def test_a_suggestion_while_typing_solves_it_and_no_incident_is_raised(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    article = ks.article_create(
        actor=org.agent,
        title="Reset your HR Portal password",
        body="Choose **Forgot password** on the login page.",
        audience="public",
        services=[org.service],
    )
    article = ks.article_transition(article=article, actor=org.support2, name="publish")
    sign_in(browser_page, live_server.url, org.requester)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/incidents/new/")
    page.wait_for_function("window.htmx !== undefined")
    # typed key by key, as a person does: HTMX asks for suggestions on keyup
    page.locator("#id_title").press_sequentially("cannot log in, portal password", delay=20)
    hit = page.locator(f'#kb-suggestions [data-article="{article.key}"]')
    hit.wait_for()
    assert "HR Portal password" in hit.inner_text()
    with browser_page.expect_page() as opened:  # the suggestion opens in a new tab
        hit.get_by_role("link").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.startswith(f"{live_server.url}{article.get_absolute_url()}?q=")
    tab.get_by_role("button", name="This solved my problem").click()
    tab.get_by_text("No incident was raised").wait_for()
    use = ArticleUse.objects.get()
    assert (use.kind, use.user, use.incident) == ("deflected", org.requester, None)
    assert use.query == "cannot log in, portal password"
    assert not Incident.objects.exists()
    article.refresh_from_db()
    assert article.used_count == 1
    errors = [
        line
        for lines in browser_page.console_lines.values()
        for line in lines
        if line.startswith(("error:", "pageerror:"))
    ]
    assert not errors, errors
