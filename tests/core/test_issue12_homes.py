"""Issue 12: each role lands on the page of its work; every home links the others the
user may use; each dashboard shows the right records (and not others'), at a cost that
does not grow with its rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import ServiceRole, Tier
from core.roles import Role
from itsm import services
from itsm.models import Incident
from itsm.services import changes as cs
from itsm.services.counts import incident_sla_marks_rebuild
from projects.models import GateEvaluation, Project, Release
from sla.models import SlaClock
from tests.factories import ServiceFactory, TeamFactory, UserFactory

PLANS = {"implementation_plan": "deploy", "backout_plan": "redeploy", "test_plan": "smoke"}


@pytest.fixture
def release_manager(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="release_manager", roles=[Role.RELEASE_MANAGER])


@pytest.fixture
def project_manager(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="project_manager", roles=[Role.PROJECT_MANAGER])


@pytest.fixture
def project(org, project_manager):  # type: ignore[no-untyped-def]
    p = Project.objects.create(
        code="PAY", name="Payroll", team=org.dev, project_manager=project_manager
    )
    p.services.add(org.service)
    return p


@pytest.fixture
def other_project(org):  # type: ignore[no-untyped-def]
    """Another service, supported and managed by other people."""
    support = TeamFactory(name="HR Support", tier=Tier.APPLICATION_SUPPORT)
    service = ServiceFactory(name="HR", support_team=support, development_team=org.dev)
    p = Project.objects.create(code="HR", name="HR portal", team=org.dev)
    p.services.add(service)
    return p


def landing(client, user) -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    return response["Location"]


def release(project: Project, version: str, status: str, **fields) -> Release:  # type: ignore[no-untyped-def]
    r = Release.objects.create(project=project, version=version, **fields)
    Release.objects.filter(pk=r.pk).update(status=status)  # the states, not the way there
    return Release.objects.get(pk=r.pk)


def incident(org, title: str, **fields) -> Incident:  # type: ignore[no-untyped-def]
    inc = services.incident_create(
        actor=org.requester, service=org.service, title=title, impact="high", urgency="high"
    )
    if fields:
        Incident.objects.filter(pk=inc.pk).update(**fields)
    return inc


# --- where each role lands ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("requester", "/portal/"),
        ("agent", "/desk/"),
        ("support2", "/home/support/"),
        ("developer", "/my-work/"),
        ("incident_manager", "/home/incidents/"),
        ("problem_manager", "/home/problems/"),
        ("change_manager", "/home/changes/"),
        ("admin", "/desk/"),
    ],
)
def test_each_role_lands_on_its_home(client, org, who: str, home: str) -> None:  # type: ignore[no-untyped-def]
    assert landing(client, getattr(org, who)) == home
    assert client.get(home).status_code == 200


def test_release_and_project_managers_land_on_theirs(
    client, org, release_manager, project_manager
) -> None:  # type: ignore[no-untyped-def]
    assert landing(client, release_manager) == "/home/releases/"
    assert client.get("/home/releases/").status_code == 200
    assert landing(client, project_manager) == "/home/projects/"
    assert client.get("/home/projects/").status_code == 200


def test_a_manager_role_comes_before_a_tier(client, org) -> None:  # type: ignore[no-untyped-def]
    org.developer.groups.add(*UserFactory(roles=[Role.INCIDENT_MANAGER]).groups.all())
    assert landing(client, org.developer) == "/home/incidents/"
    html = client.get("/home/incidents/").content.decode()
    assert 'data-testid="homes-nav"' in html and 'href="/my-work/"' in html  # one click away


def test_process_roles_follow_the_lifecycle(client, org) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(username="both", roles=[Role.CHANGE_MANAGER, Role.PROBLEM_MANAGER])
    assert landing(client, user) == "/home/problems/"
    html = client.get("/home/problems/").content.decode()
    assert 'href="/home/changes/"' in html


def test_a_per_service_role_holder_lands_on_that_roles_home(client, org) -> None:  # type: ignore[no-untyped-def]
    ServiceRole.objects.create(user=org.agent, service=org.service, role=Role.CHANGE_MANAGER)
    assert landing(client, org.agent) == "/home/changes/"
    html = client.get("/home/changes/").content.decode()
    assert 'href="/desk/"' in html


def test_a_home_of_another_role_is_not_found(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.developer)
    assert client.get("/home/incidents/").status_code == 404
    client.force_login(org.requester)
    assert client.get("/home/support/").status_code == 404


def test_the_nav_menu_lists_the_homes_of_several_roles(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.admin)
    html = client.get("/home/releases/").content.decode()
    assert 'data-testid="homes-menu"' in html and 'href="/home/projects/"' in html
    client.force_login(org.agent)
    assert 'data-testid="homes-menu"' not in client.get("/desk/").content.decode()


# --- what each home shows --------------------------------------------------------------------
def test_incident_manager_sees_breaches_risks_and_majors_across_teams(client, org) -> None:  # type: ignore[no-untyped-def]
    breached = incident(org, "Breached one")
    at_risk = incident(org, "At risk one")
    major = incident(org, "Major one", major_incident=True)
    calm = incident(org, "Calm one")
    closed_major = incident(org, "Old major", major_incident=True, status="closed")
    SlaClock.objects.filter(object_id=breached.pk, target="response").update(breached=True)
    SlaClock.objects.filter(object_id=at_risk.pk, target="resolution").update(fired=75)
    incident_sla_marks_rebuild()  # the clocks were changed behind the engine's back
    client.force_login(org.incident_manager)
    html = client.get("/home/incidents/").content.decode()
    section = {
        name: html.split(f'data-testid="{name}"')[1].split("</section>")[0]
        for name in ("major", "breached", "at-risk")
    }
    assert breached.key in section["breached"] and at_risk.key not in section["breached"]
    assert at_risk.key in section["at-risk"] and breached.key not in section["at-risk"]
    assert major.key in section["major"] and closed_major.key not in section["major"]
    assert calm.key not in html
    assert 'href="/reports/satisfaction/"' in html  # one click to how requesters feel


def test_problem_manager_sees_open_problems_not_closed_ones(client, org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import problems as ps

    open_one = ps.problem_create(actor=org.problem_manager, title="Leaky pool", service=org.service)
    gone = ps.problem_create(actor=org.problem_manager, title="Old one", service=org.service)
    ps.problem_cancel(problem=gone, actor=org.problem_manager, reason="dup")
    client.force_login(org.problem_manager)
    html = client.get("/home/problems/").content.decode()
    assert open_one.key in html and gone.key not in html
    assert 'data-testid="candidates"' in html


def test_second_line_sees_their_team_queue_and_the_uat_sign_offs_due(
    client, org, project, other_project
) -> None:  # type: ignore[no-untyped-def]
    mine = incident(org, "Ours", team_id=org.support.pk)
    theirs = incident(org, "Desk's", team_id=org.desk.pk)
    due = release(project, "2.3", "testing")
    signed = release(
        project, "2.2", "testing", uat_signed_off_at=timezone.now(), uat_signed_off_by=org.admin
    )
    elsewhere = release(other_project, "1.0", "testing")
    client.force_login(org.support2)
    html = client.get("/home/support/").content.decode()
    queue = html.split(f'data-testid="queue-{org.support.pk}"')[1].split("</section>")[0]
    assert mine.key in queue and theirs.key not in html
    uat = html.split('data-testid="uat"')[1].split("</section>")[0]
    assert f"/releases/{due.pk}/" in uat
    assert f"/releases/{signed.pk}/" not in uat and f"/releases/{elsewhere.pk}/" not in uat


def test_change_manager_sees_the_cab_the_week_and_releases_awaiting_go_live(
    client, org, project
) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now() + timedelta(hours=1)
    ch = cs.change_create(
        actor=org.developer,
        title="Deploy PAY",
        services=[org.service],
        implementer=org.developer,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    ch = cs.change_request_approval(
        change=ch, actor=org.change_manager, approvers=[org.incident_manager]
    )
    later = cs.change_create(actor=org.developer, title="Next month", services=[org.service])
    waiting = release(project, "2.3", "awaiting_go_live")
    planning = release(project, "2.4", "planning")
    client.force_login(org.change_manager)
    html = client.get("/home/changes/").content.decode()
    cab = html.split('data-testid="cab"')[1].split("</section>")[0]
    go_live = html.split('data-testid="go-live"')[1].split("</section>")[0]
    assert ch.key in cab and later.key not in html
    assert f"/releases/{waiting.pk}/" in go_live and f"/releases/{planning.pk}/" not in html


def test_release_manager_sees_releases_by_state_with_their_gate(
    client, org, project, release_manager
) -> None:  # type: ignore[no-untyped-def]
    ready = release(project, "2.3", "awaiting_go_live")
    GateEvaluation.objects.create(release=ready, purpose="query", allowed=False)
    dev = release(project, "2.4", "development")
    live = release(project, "2.2", "live")
    client.force_login(release_manager)
    html = client.get("/home/releases/").content.decode()
    column = html.split('data-testid="state-awaiting_go_live"')[1].split("</section>")[0]
    assert f"/releases/{ready.pk}/" in column and "closed" in column
    assert f"/releases/{dev.pk}/" in html.split('data-testid="state-development"')[1]
    assert f"/releases/{live.pk}/" not in html


def test_project_manager_sees_their_projects_releases_slips_and_capacity(
    client, org, project, other_project, project_manager
) -> None:  # type: ignore[no-untyped-def]
    slipped = release(
        project,
        "2.3",
        "development",
        planned_date=date(2026, 6, 10),
        original_planned_date=date(2026, 6, 3),
    )
    not_mine = release(other_project, "1.0", "development")
    client.force_login(project_manager)
    html = client.get("/home/projects/").content.decode()
    assert f"/releases/{slipped.pk}/" in html.split('data-testid="releases"')[1]
    assert f"/releases/{slipped.pk}/" in html.split('data-testid="slips"')[1]
    assert f"/releases/{not_mine.pk}/" not in html
    capacity = html.split('data-testid="capacity"')[1]
    assert org.dev.name in capacity and str(org.developer) in capacity


# --- cost ------------------------------------------------------------------------------------
def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_incident_manager_home_costs_the_same_with_1_or_6_of_each(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.incident_manager)
    counts = []
    for n in (1, 6):
        for i in range(n):
            b = incident(org, f"b{n}{i}", major_incident=True)
            r = incident(org, f"r{n}{i}")
            SlaClock.objects.filter(object_id=b.pk).update(breached=True)
            SlaClock.objects.filter(object_id=r.pk, target="resolution").update(fired=75)
        incident_sla_marks_rebuild()  # the clocks were changed behind the engine's back
        _queries(client, "/home/incidents/")  # warm the content-type cache
        counts.append(_queries(client, "/home/incidents/"))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30, counts


def test_the_release_homes_cost_the_same_with_1_or_6_releases(
    client, org, project, release_manager
) -> None:  # type: ignore[no-untyped-def]
    counts = []
    org.change_manager.groups.add(*release_manager.groups.all())
    client.force_login(org.change_manager)
    for n in (1, 6):
        for i in range(n):
            for state in ("testing", "awaiting_go_live", "development"):
                r = release(project, f"{n}.{i}.{state}", state)
                GateEvaluation.objects.create(release=r, purpose="query", allowed=True)
        counts.append([_queries(client, u) for u in ("/home/releases/", "/home/changes/")])
    assert counts[0] == counts[1], counts


def test_the_second_line_and_project_homes_cost_the_same_with_1_or_6_rows(
    client, org, project, project_manager
) -> None:  # type: ignore[no-untyped-def]
    counts = []
    for n in (1, 6):
        for i in range(n):
            incident(org, f"s{n}{i}", team_id=org.support.pk)
            release(project, f"{n}.{i}", "testing", original_planned_date=date(2026, 1, 1))
        client.force_login(org.support2)
        _queries(client, "/home/support/")  # warm-up: the SLA policies, read once a process
        support = _queries(client, "/home/support/")
        client.force_login(project_manager)
        pm = _queries(client, "/home/projects/")
        counts.append((support, pm))
    assert counts[0] == counts[1], counts


def test_the_problem_home_costs_the_same_with_1_or_6_problems(client, org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import problems as ps

    client.force_login(org.problem_manager)
    counts = []
    for n in (1, 6):
        for i in range(n):
            ps.problem_create(actor=org.problem_manager, title=f"p{n}{i}", service=org.service)
        _queries(client, "/home/problems/")  # warm-up: the SLA policies, read once a process
        counts.append(_queries(client, "/home/problems/"))
    assert counts[0] == counts[1], counts


def test_the_incident_managers_more_links_open_the_desk_filtered_the_same_way(
    client, org, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: the home's breached and at-risk lists are the desk's ``?sla=`` filters
    (the same columns of the incident row), so "more" opens exactly the rest of them."""
    from itsm import homes

    monkeypatch.setattr(homes.first_rows, "__defaults__", (1,))  # one row a list
    for i in range(2):
        b = incident(org, f"b{i}")
        r = incident(org, f"r{i}")
        SlaClock.objects.filter(object_id=b.pk).update(breached=True)
        SlaClock.objects.filter(object_id=r.pk, target="resolution").update(fired=75)
    incident_sla_marks_rebuild()
    client.force_login(org.incident_manager)
    html = client.get("/home/incidents/").content.decode()
    assert "/desk/?queue=all&amp;ordering=sla&amp;sla=breached" in html
    assert "/desk/?queue=all&amp;ordering=sla&amp;sla=at_risk" in html
    desk = client.get("/desk/?queue=all&ordering=sla&sla=at_risk").content.decode()
    assert "r0" in desk and "r1" in desk and ">b0<" not in desk
