"""Issue 11, "Done when", in the browser alone (Debian's Chromium through Playwright): a
project manager creates a project and its release with its deploying change; a developer
files three items; the project manager plans iterations, a developer of the team plans the
items into one against the team's capacity net of the 20 % support share, and the project
manager starts it; the developer drags them across the iteration
board (one move refused with its reason), comments with a mention that reaches the
person, attaches a screenshot, links a pull request; the iteration closes with one item
carried over to the next; the burndown and velocity show.

Only the people, teams, service and the change are set up outside the browser; the
database is read to check what the pages did. The clock is fixed with time-machine (the
live server runs in a thread of this process, so it sees the same time). Set
``TANDEM_SHOTS=/some/folder`` to keep screenshots of the key pages."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.models import Attachment, Comment, OutboxMessage
from core.roles import Role
from itsm.services import changes as cs
from projects import iterations as its
from projects.models import DevLink, Iteration, Project, Release, WorkItem
from tests.browser import needs_browser, sign_in
from tests.factories import UserFactory

pytestmark = needs_browser

MONDAY = date(2026, 11, 23)  # Sprint 1: Mon 23 Nov – Fri 4 Dec 2026


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("TANDEM_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def drag(page: Any, key: str, state: str) -> str:
    """Drag ``key``'s card to the ``state`` column; the board's message once it answered."""
    page.evaluate("delete document.querySelector('#board-message').dataset.outcome")
    page.locator(f'.card[data-item="{key}"]').drag_to(page.locator(f'.cards[data-state="{state}"]'))
    page.wait_for_function("document.querySelector('#board-message').dataset.outcome")
    return page.evaluate("document.querySelector('#board-message').dataset.outcome")


def test_issue11_done_when_in_chromium(  # type: ignore[no-untyped-def]
    org,
    live_server,
    browser_page,
    transactional_db,
    tmp_path,
) -> None:
    url = live_server.url
    pm = UserFactory(
        username="pm", first_name="Pat", last_name="Manager", roles=[Role.PROJECT_MANAGER]
    )
    dana = UserFactory(
        username="dana", first_name="Dana", email="dana@example.test", roles=[Role.DEVELOPER]
    )
    org.dev.members.add(dana)
    change = cs.change_create(
        actor=org.developer, title="Deploy Payroll 3.0", services=[org.service]
    )

    with time_machine.travel(at(MONDAY - timedelta(days=3)), tick=True) as clock:
        page = browser_page.new_page()

        # --- a. the project manager creates the project, then its release with its change
        sign_in(browser_page, url, pm)
        page.goto(f"{url}/projects/")
        page.click("#new-project")
        page.fill("#p-code", "PAYX")
        page.fill("#p-name", "Payroll X")
        page.select_option("#p-team", str(org.dev.pk))
        page.select_option("#p-services", [str(org.service.pk)])
        page.select_option("#p-project_manager", str(pm.pk))
        shot(page, "01-project-new")
        page.click("#project-form button[type=submit]")
        page.wait_for_url(f"{url}/projects/PAYX/")
        project = Project.objects.get(code="PAYX")
        assert (project.team, project.project_manager) == (org.dev, pm)
        assert list(project.services.all()) == [org.service]
        page.click("#new-release")
        page.fill("#r-version", "3.0")
        page.fill("#r-planned_date", "2026-12-10")
        assert page.inner_text("label[for=r-change]").startswith("Deploying change")
        page.select_option("#r-change", str(change.pk))
        shot(page, "02-release-new")
        page.click("button:has-text('Create release')")
        page.wait_for_url(re.compile(r".*/releases/\d+/$"))
        release = Release.objects.get(project=project, version="3.0")
        assert page.url == f"{url}{release.get_absolute_url()}"
        assert release.change_id == change.pk
        assert change.key in page.inner_text("main")
        # the Edit button beside the title is a button, not a heading-sized word
        font = "e => parseFloat(getComputedStyle(e).fontSize)"
        assert (
            page.locator("#edit-release").evaluate(font) < page.locator("h1").evaluate(font) / 1.5
        )
        shot(page, "03-release")

        # --- b. the developer files three items from the board ...
        sign_in(browser_page, url, org.developer)
        keys = []
        for title, hours in (("Payslip rounding", "8"), ("Tax code export", "5"), ("PDF", "3")):
            page.goto(f"{url}/projects/PAYX/")
            page.click("text=New work item")
            page.fill("#w-title", title)
            page.fill("#w-estimate_hours", hours)
            page.select_option("#w-target_release", str(release.pk))
            page.click("button:has-text('Create')")
            page.wait_for_url(re.compile(r".*/work/DEF-\d+/$"))
            keys.append(page.url.rstrip("/").rsplit("/", 1)[1])
        a, b, c = keys
        assert [w.estimate_hours for w in WorkItem.objects.order_by("id")] == [
            Decimal("8"),
            Decimal("5"),
            Decimal("3"),
        ]

        # ... the project manager plans two iterations ...
        sign_in(browser_page, url, pm)
        for name, start, end in (
            ("Sprint 1", "2026-11-23", "2026-12-04"),
            ("Sprint 2", "2026-12-07", "2026-12-18"),
        ):
            page.goto(f"{url}/projects/PAYX/")
            page.click("#iterations-link")
            page.fill("#it-name", name)
            page.fill("#it-goal", "Payslips right")
            page.fill("#it-start", start)
            page.fill("#it-end", end)
            page.click("button[data-action=create-iteration]")
            page.wait_for_url(re.compile(r".*/iterations/\d+/$"))
        s1, s2 = Iteration.objects.get(name="Sprint 1"), Iteration.objects.get(name="Sprint 2")

        # ... and a developer of the team (not its lead) plans the items from the backlog
        sign_in(browser_page, url, dana)
        page.goto(f"{url}/projects/PAYX/backlog/")
        for key in keys:
            cell = page.locator(f'td[data-iteration-of="{key}"]')
            cell.locator("select").select_option(str(s1.pk))
            with page.expect_navigation():
                cell.locator("button[data-action=plan]").click()
        shot(page, "04-backlog-planned")
        assert set(WorkItem.objects.values_list("iteration_id", flat=True)) == {s1.pk}

        # the iteration shows the plan against the capacity net of the 20 % support share:
        # each member's working hours in the iteration × (1 − 20 %)
        page.goto(f"{url}{s1.get_absolute_url()}")
        hours = its.working_hours(Iteration.objects.get(pk=s1.pk))
        assert hours == 80  # Mon–Fri twice, 8 h a day
        net = 2 * Decimal(str(hours)) * Decimal("0.8")  # developer and Dana
        assert page.inner_text("#net-hours") == f"{net:.1f} h"
        assert page.inner_text("#planned-hours") == "16.0 h planned"
        for username in ("developer", "dana"):
            row = page.inner_text(f'#capacity-members tr[data-member="{username}"]')
            assert "20 %" in row and "64.0" in row, row
        assert page.locator("button[data-action=start]").count() == 0  # the PM starts it

        clock.move_to(at(MONDAY, 9))
        sign_in(browser_page, url, pm)
        page.goto(f"{url}{s1.get_absolute_url()}")
        page.click("button[data-action=start]")
        page.wait_for_selector("#status:has-text('Active')")
        assert page.inner_text("#net-hours") == f"{net:.1f} h"
        assert Iteration.objects.get(pk=s1.pk).committed_hours == Decimal("16.0")
        shot(page, "05-iteration-started")

        # --- c. the developer drags the items across the iteration board
        clock.move_to(at(MONDAY + timedelta(days=1)))
        sign_in(browser_page, url, org.developer)
        page.goto(f"{url}{s1.get_absolute_url()}")
        for key, states in ((a, ("triaged", "in_progress", "in_review")), (b, ("triaged",))):
            for state in states:
                assert drag(page, key, state) == "moved", page.inner_text("#board-message")
                card = page.locator(f'.cards[data-state="{state}"] .card[data-item="{key}"]')
                assert card.count() == 1
        assert drag(page, c, "in_review") == "refused"
        assert "cannot move from Open to In review" in page.inner_text("#board-message")
        assert page.locator(f'.cards[data-state="open"] .card[data-item="{c}"]').count() == 1
        shot(page, "06-iteration-board-refused")
        statuses = dict(WorkItem.objects.values_list("title", "status"))
        assert statuses == {
            "Payslip rounding": "in_review",
            "Tax code export": "triaged",
            "PDF": "open",
        }

        # --- d. a comment with a mention of a colleague, through the comment box
        page.goto(f"{url}/work/{a}/")
        box = page.locator("#comment-body")
        box.click()
        box.press_sequentially("Rounding **fixed**; @dan")
        # Dana's own row: other people's random first names may start with "Dan" too
        page.click(".mention-suggestions:not([hidden]) li[data-username='dana']")
        box.press("End")
        box.press_sequentially("can you review?")
        page.click("button[data-action=comment]")
        page.wait_for_selector(".timeline .mention")
        assert Comment.objects.get().body == "Rounding **fixed**; @dana can you review?"
        notice = OutboxMessage.objects.get(
            event="work_item.mentioned", recipients=["dana@example.test"]
        )
        # delivered after the commit (Celery runs eagerly in tests): the e-mail reached Dana
        assert notice.status == OutboxMessage.Status.SENT
        assert [m.subject for m in mail.outbox if m.to == ["dana@example.test"]] == [notice.subject]
        assert a in notice.subject and "mentioned you" in notice.subject

        # --- e. a screenshot attached through the Attachments panel, previewed
        screenshot = tmp_path / "board.png"
        page.screenshot(path=str(screenshot))
        page.set_input_files("#attachment-file", str(screenshot))
        page.click("#attachments button:has-text('Attach')")
        page.wait_for_selector("#attachments img[alt='board.png']")
        assert Attachment.objects.get().name == "board.png"
        # the preview (loaded lazily: brought into view) is the image, served after the
        # record's permission check
        page.locator("#attachments img[alt='board.png']").scroll_into_view_if_needed()
        page.wait_for_function(
            "document.querySelector(\"#attachments img[alt='board.png']\").naturalWidth > 0"
        )

        # --- f. a pull request whose title names the key, in the Development panel
        pr = "https://github.com/acme/payroll/pull/42"
        page.fill("#dev-url", pr)
        page.fill("#dev-title", f"{a}: round half up")
        page.click("#dev-link-form button:has-text('Link')")
        page.wait_for_selector(f'#dev-links a[href="{pr}"]')
        assert "Pull request" in page.inner_text("#dev-links")
        assert DevLink.objects.get().kind == "pull_request"
        shot(page, "07-work-item")

        # --- finishing two of them on Thursday; the third only starts
        clock.move_to(at(MONDAY + timedelta(days=3)))
        page.goto(f"{url}{s1.get_absolute_url()}")
        for key, states in ((a, ("fixed",)), (b, ("in_progress", "in_review", "fixed"))):
            for state in states:
                assert drag(page, key, state) == "moved", page.inner_text("#board-message")
        assert drag(page, c, "triaged") == "moved"

        # --- g. closing Sprint 1 carries the unfinished item over to Sprint 2
        clock.move_to(at(MONDAY + timedelta(days=11), 17))
        sign_in(browser_page, url, pm)
        page.goto(f"{url}{s1.get_absolute_url()}")
        assert page.locator("#close-to").input_value() == str(s2.pk)
        page.click("button[data-action=close]")
        page.wait_for_selector("#status:has-text('Closed')")
        s1.refresh_from_db()
        assert (s1.status, s1.committed_hours, s1.completed_hours) == (
            "closed",
            Decimal("16.0"),
            Decimal("13.0"),
        )
        # the live server's thread kept the travelled clock
        assert timezone.localtime(s1.started_at).date() == MONDAY
        assert timezone.localtime(s1.closed_at).date() == MONDAY + timedelta(days=11)
        assert WorkItem.objects.get(title="PDF").iteration_id == s2.pk
        assert WorkItem.objects.get(title="Tax code export").iteration_id == s1.pk
        assert "completed 13.0 h" in page.inner_text("main")
        assert c in page.inner_text("#activity, .timeline")

        # --- h. the burndown on the iteration, the velocity on the list
        assert page.locator("#burndown-chart polyline").count() == 2  # ideal and actual
        assert page.locator("#burndown-chart").is_visible()
        remaining = {
            row.get_attribute("data-day"): row.locator("td").nth(1).text_content()
            for row in page.locator("#burndown-table tbody tr").all()
        }
        assert (remaining["2026-11-23"], remaining["2026-11-26"]) == ("16.0", "3.0"), remaining
        shot(page, "08-iteration-closed")
        page.goto(f"{url}{s2.get_absolute_url()}")
        assert page.locator(f'.card[data-item="{c}"]').count() == 1
        page.goto(f"{url}/projects/PAYX/iterations/")
        assert page.locator("#velocity-chart").is_visible()
        assert "Sprint 1" in page.locator("#velocity-chart").text_content()
        shot(page, "09-iterations-velocity")
