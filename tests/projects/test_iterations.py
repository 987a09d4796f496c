"""Issue 11, iterations (sprints): plan, start, close with carry-over, capacity net of
the 3rd-line share, burndown and velocity; API and pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import AuditEvent, UserProfile
from core.roles import Role
from projects import iterations as its
from projects import services as ps
from projects.models import Iteration, WorkItem
from tests.conftest import api_as
from tests.factories import TeamFactory, UserFactory

MONDAY = date(2026, 11, 23)  # a two-week iteration: Mon 23 Nov – Fri 4 Dec 2026


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def pm(project):  # type: ignore[no-untyped-def]
    user = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    project.project_manager = user
    project.save()
    return user


@pytest.fixture
def member(org):  # type: ignore[no-untyped-def]
    """A developer of the project's team who is not its lead."""
    user = UserFactory(username="dev2", roles=[Role.DEVELOPER])
    org.dev.members.add(user)
    return user


def sprint(project, pm, name="Sprint 1", start=MONDAY, days=11):  # type: ignore[no-untyped-def]
    return its.iteration_create(
        actor=pm, project=project, name=name, start=start, end=start + timedelta(days=days)
    )


def item(project, org, title="w", estimate="5", release=None):  # type: ignore[no-untyped-def]
    return ps.work_item_create(
        actor=org.developer,
        kind="enhancement",
        project=project,
        title=title,
        estimate_hours=Decimal(estimate) if estimate is not None else None,
        target_release=release,
    )


def rows(target, action):  # type: ignore[no-untyped-def]
    return list(
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(target),
            object_id=target.pk,
            action=action,
        )
    )


# --- state machine ------------------------------------------------------------------------
def _in_state(project, pm, state):  # type: ignore[no-untyped-def]
    it = sprint(project, pm, name=f"S-{state}")
    if state in ("active", "closed"):
        it = its.iteration_start(iteration=it, actor=pm)
    if state == "closed":
        it = its.iteration_close(iteration=it, actor=pm)
    return it


@pytest.mark.parametrize(
    ("state", "op", "allowed"),
    [
        ("planned", "start", True),
        ("planned", "close", False),
        ("active", "start", False),
        ("active", "close", True),
        ("closed", "start", False),
        ("closed", "close", False),
    ],
)
def test_iteration_state_machine(org, project, pm, state, op, allowed) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: every allowed and every forbidden transition."""
    it = _in_state(project, pm, state)
    service = its.ITERATION_TRANSITION_SERVICES[op]
    if allowed:
        it = service(iteration=it, actor=pm)
        assert it.status == {"start": "active", "close": "closed"}[op]
        assert rows(it, f"{op}_iteration")
    else:
        with pytest.raises(IllegalTransition):
            service(iteration=it, actor=pm)
        it.refresh_from_db()
        assert it.status == state


def test_state_is_protected(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: the state changes only through its transitions."""
    it = sprint(project, pm)
    with pytest.raises(AttributeError):
        it.status = "active"


def test_one_active_iteration_per_project(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: a second iteration cannot start while one runs."""
    first = its.iteration_start(iteration=sprint(project, pm), actor=pm)
    second = sprint(project, pm, name="Sprint 2", start=MONDAY + timedelta(days=14))
    with pytest.raises(IllegalTransition, match="Sprint 1 is still active"):
        its.iteration_start(iteration=second, actor=pm)
    its.iteration_close(iteration=first, actor=pm)
    assert its.iteration_start(iteration=second, actor=pm).status == "active"


def test_create_and_update_validation(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: bad input is a 400 with the field named, nothing written."""
    with pytest.raises(ValidationFailed) as exc:
        its.iteration_create(
            actor=pm, project=project, name="x", start=MONDAY, end=MONDAY - timedelta(days=1)
        )
    assert "end" in exc.value.errors
    it = sprint(project, pm)
    with pytest.raises(ValidationFailed) as exc:
        sprint(project, pm)
    assert "name" in exc.value.errors
    with pytest.raises(ValidationFailed):
        its.iteration_update(iteration=it, actor=pm, status="closed")
    it = its.iteration_update(
        iteration=it, actor=pm, goal="Payslips", end=MONDAY + timedelta(days=4)
    )
    assert rows(it, "updated")[0].changes["goal"] == ["", "Payslips"]
    its.iteration_close(iteration=its.iteration_start(iteration=it, actor=pm), actor=pm)
    with pytest.raises(IllegalTransition):
        its.iteration_update(iteration=it, actor=pm, end=MONDAY + timedelta(days=9))
    assert its.iteration_update(iteration=it, actor=pm, name="Sprint One").name == "Sprint One"
    assert Iteration.objects.count() == 1


# --- permissions --------------------------------------------------------------------------
def test_who_plans_iterations(org, project, pm, member) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: the Project Manager, the team lead and administrators plan
    iterations; a team member plans items only; someone outside the team neither."""
    role_pm = UserFactory(username="pm_other", roles=[Role.PROJECT_MANAGER])
    for n, actor in enumerate([pm, role_pm, org.developer, org.admin]):  # developer: the lead
        sprint(project, actor, name=f"S{n}")
    for actor in (member, org.agent, org.change_manager):
        with pytest.raises(ActionForbidden):
            sprint(project, actor, name="nope")
    it = Iteration.objects.get(name="S0")
    with pytest.raises(ActionForbidden):
        its.iteration_start(iteration=it, actor=member)
    w = item(project, org)
    assert its.work_item_plan(item=w, iteration=it, actor=member).iteration == it
    with pytest.raises(ActionForbidden):
        its.work_item_plan(item=w, iteration=None, actor=org.agent)
    assert WorkItem.objects.get(pk=w.pk).iteration == it


def test_planning_rules(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: items are planned into a planned or active iteration of
    their own project, only while open; each move is recorded on the item and on both
    iterations."""
    from projects.models import Project

    it = sprint(project, pm)
    other = Project.objects.create(code="HR", name="HR", team=org.dev)
    foreign = sprint(other, pm, name="HR 1")
    w = item(project, org)
    with pytest.raises(ValidationFailed):
        its.work_item_plan(item=w, iteration=foreign, actor=pm)
    w = its.work_item_plan(item=w, iteration=it, actor=pm)
    [planned] = rows(w, "planned")
    assert planned.changes["iteration"][1]["id"] == it.pk
    assert rows(it, "item_added")[0].comment == "From the backlog."
    # no change, no rows
    its.work_item_plan(item=w, iteration=it, actor=pm)
    assert len(rows(w, "planned")) == 1
    nxt = sprint(project, pm, name="Sprint 2", start=MONDAY + timedelta(days=14))
    its.work_item_plan(item=w, iteration=nxt, actor=pm)
    assert rows(it, "item_removed") and rows(nxt, "item_added")
    done = item(project, org, title="done")
    ps.work_wont_fix(item=done, actor=org.developer, comment="no")
    with pytest.raises(IllegalTransition):
        its.work_item_plan(item=done, iteration=it, actor=pm)


# --- close and carry-over -----------------------------------------------------------------
def test_close_carries_unfinished_items_over(org, project, pm, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: closing moves the unfinished items to the next planned
    iteration (or the backlog), recorded on each item and both iterations; done items
    stay and count as completed."""
    it = sprint(project, pm)
    nxt = sprint(project, pm, name="Sprint 2", start=MONDAY + timedelta(days=14))
    a, b, c = (item(project, org, t, e, release) for t, e in (("a", "8"), ("b", "5"), ("c", "3")))
    for w in (a, b, c):
        its.work_item_plan(item=w, iteration=it, actor=org.developer)
    it = its.iteration_start(iteration=it, actor=pm)
    assert it.committed_hours == Decimal("16")
    a = ps.work_start(item=a, actor=org.developer)
    ps.work_fix(item=a, actor=org.developer)
    ps.work_start(item=b, actor=org.developer)
    assert its.next_planned(it) == nxt
    it = its.iteration_close(iteration=it, actor=pm, move_to=nxt, comment="Good sprint")
    assert (it.status, it.completed_hours) == ("closed", Decimal("8"))
    assert its.iteration_capacity(it).planned_hours == 16  # the commitment, not what stayed
    assert set(nxt.items.values_list("pk", flat=True)) == {b.pk, c.pk}
    assert list(it.items.all()) == [a]
    for w in (b, c):
        [row] = rows(w, "carried_over")
        assert row.changes["iteration"] == [
            {"id": it.pk, "label": "Sprint 1"},
            {"id": nxt.pk, "label": "Sprint 2"},
        ]
    [closing] = rows(it, "close_iteration")
    assert f"to Sprint 2: {b.key}, {c.key}" in closing.comment and "Good sprint" in closing.comment
    assert len(rows(it, "item_carried_over")) == 2 and len(rows(nxt, "item_added")) == 2
    # the closed iteration's record stands: its done item cannot be moved out
    with pytest.raises(IllegalTransition):
        its.work_item_plan(item=a, iteration=None, actor=pm)
    # closing to the backlog
    nxt = its.iteration_start(iteration=nxt, actor=pm)
    its.iteration_close(iteration=nxt, actor=pm)
    assert WorkItem.objects.filter(pk__in=[b.pk, c.pk], iteration=None).count() == 2


def test_close_target_must_be_a_planned_iteration_of_the_project(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: unfinished items go only to a planned iteration; else 400 and
    nothing changes."""
    it = its.iteration_start(iteration=sprint(project, pm), actor=pm)
    w = item(project, org)
    its.work_item_plan(item=w, iteration=it, actor=pm)
    with pytest.raises(ValidationFailed):
        its.iteration_close(iteration=it, actor=pm, move_to=it)
    it.refresh_from_db()
    assert it.status == "active" and WorkItem.objects.get(pk=w.pk).iteration == it


# --- capacity -----------------------------------------------------------------------------
def test_capacity_net_of_the_support_share(org, project, pm, member) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: planned capacity = each member's working hours × (1 − their
    support share): the person's share, else their teams' (split between them), shown
    against the planned estimate, with a warning when over."""
    it = sprint(project, pm)  # Mon–Fri twice: 10 working days of 8 h
    assert its.working_hours(it) == 80
    UserProfile.objects.create(user=member, support_share=30)
    c = its.iteration_capacity(it)
    by = {m.user.username: m for m in c.members}
    assert (by["developer"].share, by["developer"].net_hours) == (20, 64)  # the team's 20 %
    assert (by["dev2"].share, by["dev2"].net_hours) == (30, 56)  # their own 30 %
    assert (c.gross_hours, c.support_hours, c.net_hours) == (160, 40, 120)
    # a developer in two teams: the reservation is split, counted once
    TeamFactory(name="Ops Dev", members=[org.developer], support_share=40)
    by = {m.user.username: m for m in its.iteration_capacity(it).members}
    assert (by["developer"].share, by["developer"].net_hours) == (30, 56)
    for n in range(3):
        its.work_item_plan(item=item(project, org, f"i{n}", "50"), iteration=it, actor=pm)
    its.work_item_plan(item=item(project, org, "x", None), iteration=it, actor=pm)
    c = its.iteration_capacity(it)
    assert c.planned_hours == 150 and c.net_hours == 112
    assert "exceeds the team's 112.0 h net of the 3rd-line reservation by 38.0 h" in c.warnings[0]
    assert "1 item without an estimate" in c.warnings[1]


def test_capacity_follows_the_project_calendar(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: working hours come from the project's calendar (its days,
    hours and holidays)."""
    from sla.models import BusinessCalendar, Holiday, WorkingPeriod

    cal = BusinessCalendar.objects.create(name="Four days", timezone="Europe/London")
    for wd in range(4):  # Monday to Thursday, 9:00–15:00
        WorkingPeriod.objects.create(calendar=cal, weekday=wd, start=time(9), end=time(15))
    Holiday.objects.create(calendar=cal, date=MONDAY, name="Closed")
    project.calendar = cal
    project.save()
    it = sprint(project, pm)
    assert its.working_hours(it) == 7 * 6


# --- burndown and velocity ----------------------------------------------------------------
def test_burndown_numbers(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: remaining estimate per day, rebuilt from the recorded changes
    of membership, state and estimate; the ideal line from the commitment to zero over
    the working days; future days empty."""
    with time_machine.travel(at(MONDAY - timedelta(days=3)), tick=False):
        it = sprint(project, pm, days=4)  # Mon–Fri
        a, b, c = (item(project, org, t, e) for t, e in (("a", "8"), ("b", "5"), ("c", "3")))
        for w in (a, b, c):
            its.work_item_plan(item=w, iteration=it, actor=pm)
    with time_machine.travel(at(MONDAY, 9), tick=False):
        it = its.iteration_start(iteration=it, actor=pm)
        ps.work_start(item=a, actor=org.developer)
    with time_machine.travel(at(MONDAY + timedelta(days=1)), tick=False):
        ps.work_wont_fix(item=c, actor=org.developer, comment="not needed")  # 13 left
    with time_machine.travel(at(MONDAY + timedelta(days=2)), tick=False):
        ps.work_item_update(item=b, actor=org.developer, estimate_hours=Decimal("10"))  # 18
        d = item(project, org, "d", "2")
        its.work_item_plan(item=d, iteration=it, actor=pm)  # 20
    with time_machine.travel(at(MONDAY + timedelta(days=3)), tick=False):
        its.work_item_plan(item=b, iteration=None, actor=pm)  # 10
        data = its.burndown(Iteration.objects.get(pk=it.pk))
    days = {d["date"]: d for d in data["days"]}
    assert data["committed_hours"] == 16
    assert [days[MONDAY + timedelta(days=n)]["remaining_hours"] for n in range(5)] == [
        16,
        13,
        20,
        10,
        None,
    ]
    assert [days[MONDAY + timedelta(days=n)]["ideal_hours"] for n in range(5)] == [
        12.8,
        9.6,
        6.4,
        3.2,
        0,
    ]
    # closed: the burndown ends with the unfinished work it closed with
    with time_machine.travel(at(MONDAY + timedelta(days=4)), tick=False):
        it = its.iteration_close(iteration=Iteration.objects.get(pk=it.pk), actor=pm)
    with time_machine.travel(at(MONDAY + timedelta(days=10)), tick=False):
        data = its.burndown(Iteration.objects.get(pk=it.pk))
    assert [d["remaining_hours"] for d in data["days"]] == [16, 13, 20, 10, 10]
    chart = its.burndown_chart(data)
    assert chart["actual"].count(",") == 5 and chart["ideal"]


def test_velocity_of_the_last_closed_iterations(org, project, pm, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: velocity = the done estimate of each closed iteration (and
    its commitment), the last six, oldest first."""
    for n in range(7):
        it = sprint(project, pm, name=f"S{n}", start=MONDAY + timedelta(days=14 * n), days=4)
        w = item(project, org, f"w{n}", str(n + 1), release)
        its.work_item_plan(item=w, iteration=it, actor=pm)
        its.work_item_plan(item=item(project, org, f"u{n}", "1"), iteration=it, actor=pm)
        it = its.iteration_start(iteration=it, actor=pm)
        ps.work_fix(item=ps.work_start(item=w, actor=org.developer), actor=org.developer)
        its.iteration_close(iteration=it, actor=pm)
    rows_ = its.velocity(project)
    assert [r.name for r in rows_] == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert [r.completed_hours for r in rows_] == [Decimal(n) for n in range(2, 8)]
    assert [r.committed_hours for r in rows_] == [Decimal(n + 1) for n in range(2, 8)]
    chart = its.velocity_chart(rows_)
    assert len(chart["bars"]) == 6


# --- API ------------------------------------------------------------------------------------
def test_api_iterations(org, project, pm, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: create, list with filters, edit, start, close with carry-over,
    burndown and capacity through /api/v1/iterations/; the work item's iteration is
    writable with the same rules."""
    client = api_as(pm)
    r = client.post(
        "/api/v1/iterations/",
        {"project": "PAY", "name": "Sprint 1", "start": "2026-11-23", "end": "2026-12-04"},
        format="json",
    )
    assert r.status_code == 201, r.content
    it_id = r.json()["id"]
    r = client.post(
        "/api/v1/iterations/",
        {"project": "PAY", "name": "Sprint 2", "start": "2026-12-07", "end": "2026-12-01"},
        format="json",
    )
    assert r.status_code == 400 and "end" in r.json()["fields"]
    nxt = client.post(
        "/api/v1/iterations/",
        {"project": "PAY", "name": "Sprint 2", "start": "2026-12-07", "end": "2026-12-18"},
        format="json",
    ).json()["id"]
    assert (
        api_as(org.agent)
        .post(
            "/api/v1/iterations/",
            {"project": "PAY", "name": "S3", "start": "2026-12-07", "end": "2026-12-18"},
            format="json",
        )
        .status_code
        == 403
    )
    r = client.patch(f"/api/v1/iterations/{it_id}/", {"goal": "Payslips"}, format="json")
    assert r.status_code == 200 and r.json()["goal"] == "Payslips"
    a, b = item(project, org, "a", "8", release), item(project, org, "b", "5", release)
    dev = api_as(org.developer)
    for w in (a, b):
        r = dev.patch(f"/api/v1/enhancements/{w.key}/", {"iteration": it_id}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["iteration"]["name"] == "Sprint 1"
    r = api_as(org.agent).patch(
        f"/api/v1/enhancements/{a.key}/", {"iteration": None}, format="json"
    )
    assert r.status_code == 403
    assert (
        client.post(f"/api/v1/iterations/{it_id}/transitions/close/", {}, format="json").status_code
        == 409
    )
    r = client.post(f"/api/v1/iterations/{it_id}/transitions/start/", {}, format="json")
    assert (
        r.status_code == 200
        and r.json()["status"] == "active"
        and r.json()["committed_hours"] == "13.0"
    )
    assert (
        client.post(f"/api/v1/iterations/{it_id}/transitions/fly/", {}, format="json").status_code
        == 404
    )
    r = client.get("/api/v1/iterations/", {"project": "PAY", "status": "active"})
    assert [x["id"] for x in r.json()["results"]] == [it_id] and r.json()["results"][0][
        "item_count"
    ] == 2
    r = client.get(f"/api/v1/iterations/{it_id}/burndown/")
    assert (
        r.status_code == 200 and r.json()["committed_hours"] == 13 and len(r.json()["days"]) == 12
    )
    r = client.get(f"/api/v1/iterations/{it_id}/capacity/")
    assert r.status_code == 200 and r.json()["planned_hours"] == 13 and r.json()["net_hours"] == 64
    ps.work_fix(item=ps.work_start(item=a, actor=org.developer), actor=org.developer)
    r = client.post(
        f"/api/v1/iterations/{it_id}/transitions/close/", {"move_to": nxt}, format="json"
    )
    assert r.status_code == 200 and r.json()["completed_hours"] == "8.0"
    assert WorkItem.objects.get(pk=b.pk).iteration_id == nxt
    # a closed iteration takes no items; an iteration of another project neither
    r = dev.patch(f"/api/v1/enhancements/{b.key}/", {"iteration": it_id}, format="json")
    assert r.status_code == 400
    r = dev.patch(f"/api/v1/enhancements/{b.key}/", {"iteration": 999999}, format="json")
    assert r.status_code == 400
    r = dev.patch(
        f"/api/v1/enhancements/{b.key}/", {"iteration": None, "title": "B"}, format="json"
    )
    assert r.status_code == 200 and r.json()["iteration"] is None and r.json()["title"] == "B"


# --- pages --------------------------------------------------------------------------------
def test_pages_plan_start_close(org, project, pm, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: in the browser a project manager plans an iteration, items
    are planned from the backlog, the iteration page shows board, capacity and burndown,
    and closing carries the unfinished one over."""
    browser = Client()
    browser.force_login(pm)
    r = browser.post(
        "/projects/PAY/iterations/",
        {"name": "Sprint 1", "start": "2026-11-23", "end": "2026-12-04", "goal": "Pay"},
    )
    assert r.status_code == 302
    it = Iteration.objects.get(name="Sprint 1")
    r = browser.post(
        "/projects/PAY/iterations/", {"name": "Bad", "start": "2026-11-23", "end": "2026-11-01"}
    )
    assert r.status_code == 400 and b"ends on or after" in r.content
    a, b = item(project, org, "a", "8", release), item(project, org, "b", "5", release)
    page = browser.get("/projects/PAY/backlog/").content.decode()
    assert "Plan into iteration" in page and f'action="/work/{a.key}/plan/"' in page
    for w in (a, b):
        r = browser.post(
            f"/work/{w.key}/plan/", {"iteration": it.pk, "next": "/projects/PAY/backlog/"}
        )
        assert r.status_code == 302 and r["Location"] == "/projects/PAY/backlog/"
    assert browser.post(f"/work/{a.key}/plan/", {"iteration": "99999"}).status_code == 400
    r = browser.post(f"/iterations/{it.pk}/start/")
    assert r.status_code == 302
    page = browser.get(it.get_absolute_url()).content.decode()
    for part in (
        'id="capacity"',
        'id="burndown-chart"',
        'id="burndown-table"',
        a.key,
        b.key,
        "13.0 h planned",
        'data-action="close"',
    ):
        assert part in page, part
    assert 'id="active-iteration"' in browser.get("/projects/PAY/").content.decode()
    ps.work_fix(item=ps.work_start(item=a, actor=org.developer), actor=org.developer)
    r = browser.post(f"/iterations/{it.pk}/close/", {"move_to": ""})
    assert r.status_code == 302
    assert WorkItem.objects.get(pk=b.pk).iteration is None
    page = browser.get("/projects/PAY/iterations/").content.decode()
    assert 'id="velocity-chart"' in page and "Sprint 1" in page
    # a team member sees no planning buttons for iterations, and is refused
    other = Client()
    other.force_login(UserFactory(username="dev3", roles=[Role.DEVELOPER]))
    page = other.get("/projects/PAY/iterations/").content.decode()
    assert 'data-action="create-iteration"' not in page
    assert (
        other.post(
            "/projects/PAY/iterations/", {"name": "x", "start": "2026-12-01", "end": "2026-12-02"}
        ).status_code
        == 403
    )
    page = other.get("/projects/PAY/backlog/").content.decode()
    assert "Plan into iteration" not in page


def test_iteration_page_and_list_query_counts(
    org, project, pm, release, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: the iteration page and the list cost the same number of
    queries whatever the number of items and iterations."""
    browser = Client()
    browser.force_login(pm)
    it = sprint(project, pm)
    for n in range(3):
        its.work_item_plan(item=item(project, org, f"a{n}", "2", release), iteration=it, actor=pm)
    its.iteration_start(iteration=it, actor=pm)
    browser.get(it.get_absolute_url())  # warm caches (content types, roles)

    def count(url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert browser.get(url).status_code == 200
        return len(ctx.captured_queries)

    page, listing = count(it.get_absolute_url()), count("/projects/PAY/iterations/")
    for n in range(6):
        its.work_item_plan(item=item(project, org, f"b{n}", "2", release), iteration=it, actor=pm)
        sprint(project, pm, name=f"later {n}", start=MONDAY + timedelta(days=14 * (n + 1)))
    with django_assert_num_queries(page):
        browser.get(it.get_absolute_url())
    with django_assert_num_queries(listing):
        browser.get("/projects/PAY/iterations/")
    # the page: session, user, roles, iteration, items, burndown (4), capacity (3),
    # planned iterations, timeline (2), who may move cards (the project's services and
    # the user's teams), the cards' labels and open blockers; the list: the same start,
    # project, iterations
    assert (page, listing) == (20, 7), (page, listing)  # issue 12: +1 each, the bell


def test_demo_iterations(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 iterations: the demo has a closed iteration (one item carried over) and
    an active one, replayed through the services on the days they stand for."""
    import io

    from projects.demo import _seed_iterations
    from projects.models import Release

    UserFactory(username="project_manager", roles=[Role.PROJECT_MANAGER])
    Release.objects.create(project=project, version="2.4")
    with time_machine.travel(at(MONDAY + timedelta(days=2), 15), tick=False):
        _seed_iterations(io.StringIO())
        s1, s2, s3 = Iteration.objects.filter(project=project).order_by("start")
        assert (s1.status, s2.status, s3.status) == ("closed", "active", "planned")
        assert (s1.committed_hours, s1.completed_hours) == (Decimal("26"), Decimal("13"))
        assert sorted(s2.items.values_list("title", flat=True)) == [
            "Export contributions to the pension provider",
            "Self-service address change",
        ]
        remaining = [d["remaining_hours"] for d in its.burndown(s1)["days"]]
        assert remaining[0] == 26 and remaining[3] == 18 and remaining[-1] == 13
        assert [d["remaining_hours"] for d in its.burndown(s2)["days"]][:3] == [21, 21, 21]
        _seed_iterations(io.StringIO())  # idempotent
        assert Iteration.objects.count() == 3
