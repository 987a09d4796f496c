"""Defects found while walking issue 11's "Done when", each pinned by its own test."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import pytest
from django.test import Client

from core.models import Tier
from core.roles import Role
from projects import iterations as its
from projects import services as ps
from projects.models import Project, Release, WorkItem
from tests.browser import CHROMIUM, sign_in, sync_playwright
from tests.conftest import api_as
from tests.factories import TeamFactory, UserFactory


def test_velocity_api_counts_each_iterations_items(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """The velocity rows said ``item_count: 0`` for every closed iteration (the rows were
    not annotated as the iteration list's are): it is the number of items it holds."""
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    project.project_manager = pm
    project.save()
    start = date(2026, 11, 23)
    it = its.iteration_create(
        actor=pm, project=project, name="S1", start=start, end=start + timedelta(days=11)
    )
    for n in range(2):
        w = ps.work_item_create(
            actor=org.developer,
            kind="defect",
            project=project,
            title=f"{n}",
            target_release=release,
        )
        its.work_item_plan(item=w, iteration=it, actor=pm)
    it = its.iteration_start(iteration=it, actor=pm)
    ps.work_fix(item=ps.work_start(item=w, actor=org.developer), actor=org.developer)
    its.iteration_close(iteration=it, actor=pm)  # the unfinished one goes to the backlog
    r = api_as(pm).get("/api/v1/iterations/velocity/", {"project": "PAY"})
    assert r.status_code == 200
    assert [(x["name"], x["item_count"]) for x in r.json()["iterations"]] == [("S1", 1)]


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
@pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed")
def test_url_fields_look_like_the_other_fields(  # type: ignore[no-untyped-def]
    org, live_server, browser_page, transactional_db
) -> None:
    """The Development panel's URL field had the browser's bare input style (the
    stylesheet styled text, e-mail, number... inputs but not ``type=url``)."""
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    sign_in(browser_page, live_server.url, org.developer)
    page = browser_page.new_page()
    page.goto(f"{live_server.url}{item.get_absolute_url()}")
    style = "e => [getComputedStyle(e).borderRadius, getComputedStyle(e).borderTopColor]"
    assert page.locator("#dev-url").evaluate(style) == page.locator("#dev-title").evaluate(style)


def test_new_work_item_form_offers_what_the_service_accepts(org, project) -> None:  # type: ignore[no-untyped-def]
    """The new work item form offered every active user as assignee and every release of
    every project, and a refused one answered with a bare error page that lost the form:
    now it offers the named project's team and manager and its open releases (for no
    project named: those of the projects it offers), and a refusal keeps the form."""
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    project.project_manager = pm
    project.save()
    mine = Release.objects.create(project=project, version="2.3")
    Release.objects.create(project=project, version="2.2", status="cancelled")
    other = Project.objects.create(code="HR", name="HR", team=TeamFactory(tier=Tier.DEVELOPMENT))
    theirs = Release.objects.create(project=other, version="9.9")
    browser = Client()
    browser.force_login(org.developer)

    def options(page: str, field: str) -> list[str]:
        select = re.search(rf'<select name="{field}".*?</select>', page, re.S)
        assert select, field
        return re.findall(r'<option value="([^"]*)"', select.group(0))

    page = browser.get("/work/new/?project=PAY&kind=defect").content.decode()
    assert options(page, "target_release") == ["", str(mine.pk)]
    assert sorted(options(page, "assignee")) == sorted(["", str(org.developer.pk), str(pm.pk)])
    page = browser.get("/work/new/?kind=defect").content.decode()
    assert sorted(options(page, "target_release")) == sorted(["", str(mine.pk), str(theirs.pk)])
    assert str(org.requester.pk) not in options(page, "assignee")

    r = browser.post(
        "/work/new/",
        {"kind": "defect", "project": "PAY", "title": "Rounding", "target_release": theirs.pk},
    )
    assert r.status_code == 400
    page = r.content.decode()
    assert "HR 9.9 is not a release of" in page and 'value="Rounding"' in page
    assert 'id="w-title"' in page
    assert not WorkItem.objects.exists()
