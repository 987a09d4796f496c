"""Issue 11, the comment box in a real browser: typing ``@sup`` offers Sam (support2),
Enter inserts the name, Preview shows the rendered Markdown with the mention, and the
note posted tells support2."""

from __future__ import annotations

from core.models import Comment, OutboxMessage
from projects import services as ps
from projects.models import Project
from tests.browser import needs_browser, sign_in

pytestmark = needs_browser


def test_mention_suggestions_preview_and_post_in_chromium(  # type: ignore[no-untyped-def]
    org,
    live_server,
    browser_page,
    transactional_db,
) -> None:
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    sign_in(browser_page, live_server.url, org.developer)
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
