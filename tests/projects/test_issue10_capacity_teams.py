"""Issue 10 #23: capacity counted a person's hours in full on every team they belong to
(a developer in two teams showed the same 12 h support / 17.5 h project on both). Time is
attributed to the team whose work it was, fixed when it is logged, and a person's
reservation is theirs once, split between their teams."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
import time_machine
from django.apps import apps
from django.test import Client

from core.models import Tier
from itsm import services as itsm
from projects import services as ps
from projects.capacity import team_capacity, time_log
from projects.models import Project, TimeEntry
from tests.conftest import api_as
from tests.factories import ServiceFactory, TeamFactory

WEDNESDAY = date(2026, 11, 25)


@pytest.fixture
def two_teams(org, project):  # type: ignore[no-untyped-def]
    """The developer is in Payroll Dev (project PAY) and HR Dev (project HR)."""
    hr_dev = TeamFactory(name="HR Dev", tier=Tier.DEVELOPMENT, members=[org.developer])
    hr = ServiceFactory(name="HR Portal", support_team=org.support, development_team=hr_dev)
    hr_project = Project.objects.create(code="HR", name="HR Portal", team=hr_dev)
    hr_project.services.add(hr)
    return hr_dev, hr, hr_project


def _week(org, project, hr_project):  # type: ignore[no-untyped-def]
    """12 h support on Payroll incidents, 17.5 h on a Payroll defect, 2 h on an HR item."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax")
    inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="dev", tier=3)
    pay = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="d")
    hr = ps.work_item_create(actor=org.developer, kind="enhancement", project=hr_project, title="e")
    for hours in ("6", "6"):
        time_log(actor=org.developer, target=inc, hours=hours)
    for hours in ("10", "7.5"):
        time_log(actor=org.developer, target=pay, hours=hours)
    time_log(actor=org.developer, target=hr, hours="2")
    return inc


def test_issue10_23_hours_count_on_the_team_whose_work_they_were(org, project, two_teams) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #23: each team sees the hours of its own work; the reservation (20 % of
    40 h = 8 h) is split, not repeated."""
    hr_dev, _, hr_project = two_teams
    with time_machine.travel(WEDNESDAY, tick=False):
        _week(org, project, hr_project)
        [pay_row] = team_capacity(org.dev, "2026-W48")["rows"]
        [hr_row] = team_capacity(hr_dev, "2026-W48")["rows"]
    assert (pay_row.support, pay_row.project) == (12.0, 17.5)
    assert (pay_row.other_support, pay_row.other_project) == (0.0, 2.0)
    assert (hr_row.support, hr_row.project) == (0.0, 2.0)
    assert (hr_row.other_support, hr_row.other_project) == (12.0, 17.5)
    assert pay_row.teams == hr_row.teams == 2
    assert pay_row.reserved + hr_row.reserved == pay_row.reserved_total == 8.0
    # 12 h of support against 8 h reserved, once: both teams see the person is over.
    assert "by 4.0 h across their teams" in pay_row.warnings[0]


def test_issue10_23_the_team_is_fixed_when_the_time_is_logged(org, project, two_teams) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #23: the entry keeps the ticket's team of the moment; a work item's is
    its project's team; a problem no team holds goes to the person's team for its
    service."""
    hr_dev, hr, hr_project = two_teams
    with time_machine.travel(WEDNESDAY, tick=False):
        inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax")
        inc = itsm.incident_escalate(incident=inc, actor=org.agent, reason="dev", tier=3)
        first = time_log(actor=org.developer, target=inc, hours="1")
        inc = itsm.incident_assign(incident=inc, actor=org.incident_manager, team=org.support)
        later = time_log(actor=org.support2, target=inc, hours="1")
        item = ps.work_item_create(
            actor=org.developer, kind="defect", project=hr_project, title="d"
        )
        on_item = time_log(actor=org.developer, target=item, hours="1")
        from itsm.services import problems as prs

        problem = prs.problem_create(
            actor=org.problem_manager, title="Leak", service=hr, assignee=org.developer
        )
        on_problem = time_log(actor=org.developer, target=problem, hours="1")
    first.refresh_from_db()
    assert first.team == org.dev and later.team == org.support
    assert on_item.team == hr_dev and on_problem.team == hr_dev


def test_issue10_23_backfill_attributes_existing_entries(org, project, two_teams) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #23: the migration's backfill gives logged time its team."""
    _, hr, hr_project = two_teams
    with time_machine.travel(WEDNESDAY, tick=False):
        inc = _week(org, project, hr_project)
        from itsm.services import problems as prs

        problem = prs.problem_create(
            actor=org.problem_manager, title="Leak", service=hr, assignee=org.developer
        )
        time_log(actor=org.developer, target=problem, hours="1")
    expected = dict(TimeEntry.objects.values_list("pk", "team_id"))
    TimeEntry.objects.update(team=None)
    migration = importlib.import_module("projects.migrations.0007_timeentry_team")
    migration.backfill_team(apps, None)
    assert dict(TimeEntry.objects.values_list("pk", "team_id")) == expected
    on_incident = TimeEntry.objects.filter(content_type__model="incident", object_id=inc.pk)
    assert on_incident.filter(team=org.dev).count() == 2


def test_issue10_23_page_and_api(org, project, two_teams) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #23: the page and the API show this team's hours and the rest apart."""
    hr_dev, _, hr_project = two_teams
    with time_machine.travel(WEDNESDAY, tick=False):
        _week(org, project, hr_project)
        c = Client()
        c.force_login(org.developer)
        page = c.get(f"/teams/{hr_dev.pk}/capacity/?week=2026-W48").content.decode()
        body = api_as(org.developer).get(f"/api/v1/teams/{hr_dev.pk}/capacity/?week=2026-W48")
    assert "4.0 h here" in page and "shared by 2 teams" in page
    assert "12.0 h support · 17.5 h project" in page
    [person] = body.json()["people"]
    assert (person["support_hours"], person["project_hours"]) == (0.0, 2.0)
    assert (person["other_teams_support_hours"], person["reserved_hours"]) == (12.0, 4.0)
    entries = api_as(org.developer).get("/api/v1/time-entries/").json()["results"]
    assert {e["team"] for e in entries} == {"Payroll Dev", "HR Dev"}
