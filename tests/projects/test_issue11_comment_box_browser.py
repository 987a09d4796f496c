"""Issue 11, the comment box in a real browser: typing ``@sup`` offers Sam (support2),
Enter inserts the name, Preview shows the rendered Markdown with the mention, and the
note posted tells support2."""

from __future__ import annotations

from django.test import Client

from core.models import Comment, OutboxMessage
from projects import services as ps
from projects.models import Project
from tests.projects.test_board_browser import browser_page, pytestmark  # noqa: F401


def test_mention_suggestions_preview_and_post_in_chromium(  # type: ignore[no-untyped-def]
    org,
    live_server,
    browser_page,  # noqa: F811
    transactional_db,
) -> None:
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    client = Client()
    client.force_login(org.developer)
    host = live_server.url.split("//")[1].split(":")[0]
    browser_page.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "domain": host,
                "path": "/",
            }
        ]
    )
    page = browser_page.new_page()
    page.goto(f"{live_server.url}{item.get_absolute_url()}")
    box = page.locator("#comment-body")
    box.click()
    box.press_sequentially("**Found** it, @supp")
    page.wait_for_selector(".mention-suggestions:not([hidden]) li")
    assert "@support2" in page.inner_text(".mention-suggestions")
    box.press("Enter")
    assert box.input_value() == "**Found** it, @support2 "
    page.click("text=Preview")
    page.wait_for_selector("#comment-preview .mention")
    assert "<strong>Found</strong>" in page.inner_html("#comment-preview")
    page.click("button[data-action=comment]")
    page.wait_for_selector(".timeline .mention")
    assert Comment.objects.get().body == "**Found** it, @support2"
    assert OutboxMessage.objects.filter(
        event="work_item.mentioned", recipients=[org.support2.email]
    ).exists()
