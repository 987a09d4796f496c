"""Issue 13: every list and list-like page of projects/ costs a fixed number of queries,
whatever the number of rows it shows: measured with one row of each kind, then with
twelve, the count is the same and the twelve are on the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from core.roles import Role
from itsm.services import changes as cs
from projects import services as ps
from projects.capacity import time_log
from projects.iterations import iteration_create, iteration_start, work_item_plan
from projects.models import Release, ReleaseStatus
from projects.services import structure
from tests.factories import UserFactory
from tests.itsm.test_changes import PLANS
from tests.pins import assert_pinned, client_for, count
from tests.projects.test_my_work import _in_queue


@dataclass
class World:
    org: Any
    project: Any
    release: Any
    iteration: Any
    item: Any  # the work item whose page gathers comments, links, children and changes
    pm: Any
    defect: Any  # the defect whose page gathers incidents


@pytest.fixture
def world(org, project) -> World:  # type: ignore[no-untyped-def]
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    start = date.today()
    # in development: the release notes pages show it
    release = Release.objects.create(
        project=project, version="9.0", planned_date=start, status=ReleaseStatus.DEVELOPMENT
    )
    iteration = iteration_create(
        actor=org.developer, project=project, name="Sprint", start=start, end=start + timedelta(13)
    )
    iteration = iteration_start(iteration=iteration, actor=org.developer)  # my work shows it
    item = ps.work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="Hub item"
    )
    defect = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Hub defect"
    )
    return World(org, project, release, iteration, item, pm, defect)


def _add(w: World, i: int) -> None:
    """One more row of every list (and one more comment, link and child on the hub item)."""
    org, dev = w.org, w.org.developer
    ps.project_create(actor=org.admin, code=f"P{i}", name=f"Project {i}", team=org.dev)
    member = UserFactory(username=f"member{i}", first_name="Member", roles=[Role.DEVELOPER])
    org.dev.members.add(member)  # the capacity page's rows, the forms' assignable people
    structure.component_create(project=w.project, actor=dev, name=f"Component {i}")
    iteration_create(
        actor=dev,
        project=w.project,
        name=f"Sprint {i}",
        start=date.today() + timedelta(14 * (i + 1)),
        end=date.today() + timedelta(14 * (i + 1) + 11),
    )
    ps.release_create(
        actor=dev, project=w.project, version=f"1.{i}", planned_date=date.today() + timedelta(60)
    )
    incident = _in_queue(org, org.dev, f"Incident {i}", i + 1)  # my work's 3rd-line ones
    ps.defect_link_incident(item=w.defect, actor=dev, incident=incident)
    for kind in ("defect", "enhancement"):
        row = ps.work_item_create(
            actor=dev,
            kind=kind,
            project=w.project,
            title=f"Row {kind} {i}",
            assignee=dev,
            estimate_hours=i + 1,
            target_release=w.release,
            labels=[f"l{i}", "shared"],
            components=[f"Component {i}"],
            parent=w.item if kind == "enhancement" else None,
        )
        work_item_plan(item=row, iteration=w.iteration, actor=dev)
        time_log(actor=dev, target=row, hours="1", note=f"Worked {i}")
        if kind == "defect":  # a defect's incidents (counts, SLA) come with the list
            hurt = _in_queue(org, org.support, f"Hurt by {i}", i + 2)
            ps.defect_link_incident(item=row, actor=dev, incident=hurt)
    # open defects no release fixes: the release notes' known issues (the worst first)
    other = ps.work_item_create(
        actor=dev, kind="defect", project=w.project, title=f"Linked {i}", priority=2
    )
    structure.work_item_link_add(
        item=w.item, other=other, kind="relates" if i % 2 else "blocks", actor=dev
    )
    ps.work_comment(item=w.item, actor=dev, body=f"Comment {i}")
    change = cs.change_create(
        actor=dev, type="emergency", title=f"Hotfix {i}", services=[org.service], **PLANS
    )
    ps.emergency_decision_record(
        actor=org.change_manager,
        change=change,
        release=w.release,
        project_manager=w.pm,
        slip_days=1,
        developer=dev,
    )
    ps.enhancement_link_change(item=w.item, actor=dev, change=change)


def _pin(w: World, viewer: Any, url: str, shown: Any) -> tuple[int, int]:
    return assert_pinned(client_for(viewer, url), url, lambda i: _add(w, i), shown)


API = [
    ("/api/v1/projects/", "developer", count('"code":"P')),
    ("/api/v1/releases/", "developer", count('"version":"1.')),
    ("/api/v1/defects/", "developer", count("Row defect")),
    ("/api/v1/enhancements/", "developer", count("Row enhancement")),
    ("/api/v1/components/", "developer", count("Component ")),
    ("/api/v1/iterations/", "developer", count("Sprint ")),
    ("/api/v1/time-entries/", "developer", count("Worked ")),
    ("capacity", "developer", count('"username":"member')),
    ("/api/v1/defects/export/", "developer", count("Row defect")),
    ("/api/v1/enhancements/export/", "developer", count("Row enhancement")),
    ("/api/v1/emergency-decisions/", "change_manager", count('"change":"CHG-')),
]


@pytest.mark.parametrize(("url", "role", "shown"), API, ids=[u for u, _, _ in API])
def test_api_lists_cost_the_same_for_one_or_twelve_rows(world, url, role, shown) -> None:  # type: ignore[no-untyped-def]
    if url == "capacity":
        url = f"/api/v1/teams/{world.org.dev.pk}/capacity/"
    _pin(world, getattr(world.org, role), url, shown)


PAGES = [
    ("/projects/", "developer", count("Project ")),
    ("/projects/PAY/", "developer", count("Row ")),
    ("/projects/PAY/?lanes=epic", "developer", count("Row ")),
    ("/projects/PAY/backlog/", "developer", count("Row ")),
    ("/projects/PAY/backlog/?export=csv", "developer", count("Row ")),
    ("/my-work/", "developer", lambda b: min(b.count("Row "), b.count("Incident "))),
    ("/projects/PAY/iterations/", "developer", count("Sprint ")),
    ("iteration", "developer", count("Row ")),
    ("release", "developer", count("Row ")),
    (
        "item",
        "developer",
        lambda b: min(b.count("Comment "), b.count("Linked "), b.count("Hotfix ")),
    ),
    ("defect", "developer", count("Incident ")),
    ("item?tab=comments", "developer", count("Comment ")),
    ("item?tab=history", "developer", count("Linked ")),
    ("/projects/PAY/components/", "developer", count("Component ")),
    ("/projects/new/", "admin", count("Member ")),  # the project managers offered
    ("/projects/PAY/settings/", "admin", count("Member ")),
    ("/projects/PAY/releases/new/", "developer", count("CHG-")),  # the open changes
    ("release_edit", "developer", count("CHG-")),
    ("/work/new/", "developer", count("PAY 1.")),  # every project's open releases offered
    ("/work/new/?project=PAY", "developer", lambda b: min(b.count("1."), b.count("Member "))),
    ("capacity", "developer", count("member")),
    ("/release-notes/", "developer", count("Linked ")),  # known issues
]


@pytest.mark.parametrize(("url", "role", "shown"), PAGES, ids=[u for u, _, _ in PAGES])
def test_pages_cost_the_same_for_one_or_twelve_rows(world, url, role, shown) -> None:  # type: ignore[no-untyped-def]
    if url == "iteration":
        url = f"/iterations/{world.iteration.pk}/"
    elif url == "release":
        url = f"/releases/{world.release.pk}/"
    elif url == "defect":
        url = world.defect.get_absolute_url()
    elif url == "release_edit":
        url = f"/releases/{world.release.pk}/edit/"
    elif url == "capacity":
        url = f"/teams/{world.org.dev.pk}/capacity/"
    elif url.startswith("item"):
        url = world.item.get_absolute_url() + url[len("item") :]
    _pin(world, getattr(world.org, role), url, shown)
