"""Issue 11, my work: a developer's 3rd-line incidents (earliest SLA due first) beside
their work items in the active iteration, and this week's support vs project hours
against their reserved share; query count pinned."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Tier
from itsm.models import Incident
from projects import iterations as its
from projects import services as ps
from projects.capacity import time_log
from sla.models import SlaClock
from tests.factories import TeamFactory, incident


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _in_queue(org, team, title, due_in_hours):  # type: ignore[no-untyped-def]
    inc = incident(actor=org.requester, service=org.service, title=title)
    Incident.objects.filter(pk=inc.pk).update(team=team, tier=team.tier)
    due = timezone.now() + timedelta(hours=due_in_hours)
    SlaClock.objects.filter(object_id=inc.pk, content_type__model="incident").update(due_at=due)
    Incident.objects.filter(pk=inc.pk).update(sla_due_at=due)  # as the SLA engine keeps it
    return inc


def _sprint_with(org, project, titles):  # type: ignore[no-untyped-def]
    sprint = its.iteration_create(
        actor=org.developer,
        project=project,
        name="S1",
        start=date.today(),
        end=date.today() + timedelta(days=10),
    )
    items = []
    for t in titles:
        i = ps.work_item_create(
            actor=org.developer, kind="defect", project=project, title=t, assignee=org.developer
        )
        its.work_item_plan(item=i, actor=org.developer, iteration=sprint)
        items.append(i)
    its.iteration_start(iteration=sprint, actor=org.developer)
    return items


def test_my_work_incidents_sla_ordered_beside_iteration_items(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (my work): tier-3 queue incidents, earliest SLA due first; not another
    team's; my items of the active iteration."""
    later = _in_queue(org, org.dev, "later", 30)
    sooner = _in_queue(org, org.dev, "sooner", 2)
    elsewhere = _in_queue(org, org.support, "2nd line", 1)
    other_dev = TeamFactory(name="Other Dev", tier=Tier.DEVELOPMENT)
    theirs = _in_queue(org, other_dev, "theirs", 1)
    [mine] = _sprint_with(org, project, ["in the sprint"])
    backlog = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="backlog", assignee=org.developer
    )
    page = client_for(org.developer).get("/my-work/").content.decode()
    assert page.index(f'data-incident="{sooner.key}"') < page.index(f'data-incident="{later.key}"')
    assert f'data-incident="{elsewhere.key}"' not in page
    assert f'data-incident="{theirs.key}"' not in page
    assert f'data-item="{mine.key}"' in page and f'data-item="{backlog.key}"' not in page
    assert 'href="/my-work/"' in page  # the nav link, for developers


def test_my_work_week_against_the_reserved_share(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (my work): this week's support and project hours against the share
    reserved (the team's 20 % of the work week by default)."""
    org.dev.support_share = 20
    org.dev.save()
    inc = _in_queue(org, org.dev, "support", 5)
    Incident.objects.filter(pk=inc.pk).update(assignee=org.developer, status="in_progress")
    inc.refresh_from_db()
    [item] = _sprint_with(org, project, ["work"])
    time_log(actor=org.developer, target=inc, hours="3")
    time_log(actor=org.developer, target=item, hours="5")
    page = client_for(org.developer).get("/my-work/").content.decode()
    assert "3.0 h support" in page and "5.0 h project" in page
    assert "h reserved" in page and "20 %" in page


def test_my_work_nav_link_only_for_developers(org) -> None:  # type: ignore[no-untyped-def]
    page = client_for(org.agent).get("/projects/").content.decode()
    assert 'href="/my-work/"' not in page


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/my-work/").status_code == 200
    return len(ctx.captured_queries)


def test_my_work_query_count_is_pinned(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (my work): the same queries for 1 and for 6 incidents and items."""
    c = client_for(org.developer)
    _in_queue(org, org.dev, "one", 3)
    _sprint_with(org, project, ["a"])
    _queries(c)  # warm the process's caches (refcache: the clocks' policies and calendars)
    few = _queries(c)
    for n in range(5):
        _in_queue(org, org.dev, f"more {n}", n + 1)
    WorkItemModel = type(project.work_items.first())
    first = project.work_items.first()
    for n in range(5):
        WorkItemModel.objects.create(
            kind="defect",
            number=50_000 + n,
            project=project,
            title=f"more {n}",
            reported_by=org.developer,
            assignee=org.developer,
            iteration=first.iteration,
        )
    assert _queries(c) == few
