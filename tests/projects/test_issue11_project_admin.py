"""Issue 11: projects created, edited, archived and restored by administrators and
Project Managers (services, API, pages, Django admin), every action audited."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import AuditEvent, Team, Tier
from core.roles import Role
from core.selectors import history_of
from projects import services as ps
from projects.models import Project, Release, WorkItem
from tests.conftest import api_as
from tests.factories import ServiceFactory, UserFactory


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def pm(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="pm_role", roles=[Role.PROJECT_MANAGER])


@pytest.fixture
def dev_team(org):  # type: ignore[no-untyped-def]
    return Team.objects.create(name="HR Dev", tier=Tier.DEVELOPMENT)


# --- services -----------------------------------------------------------------------


def test_project_create_by_a_project_manager_is_audited(org, pm, dev_team) -> None:  # type: ignore[no-untyped-def]
    svc = ServiceFactory(name="HR portal")
    p = ps.project_create(
        actor=pm,
        code="hr",
        name="HR",
        team=dev_team,
        services=[svc],
        project_manager=pm,
        wip_limits={"in_progress": 3},
    )
    assert p.code == "HR" and list(p.services.all()) == [svc]
    [event] = history_of(p)
    assert event.action == "created" and event.actor == pm
    assert event.changes["services"] == [None, ["HR portal"]]
    assert event.changes["code"] == [None, "HR"]


@pytest.mark.parametrize("who", ["developer", "change_manager", "agent"])
def test_project_create_refused_to_others(org, dev_team, who) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden, match="Project Managers"):
        ps.project_create(actor=getattr(org, who), code="HR", name="HR", team=dev_team)
    assert not Project.objects.filter(code="HR").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "PAY"}, "code"),  # the fixture's project
        ({"code": "p"}, "code"),
        ({"code": "A-B"}, "code"),
        ({"name": "Payroll"}, "name"),
        ({"wip_limits": {"doing": 2}}, "wip_limits"),
        ({"wip_limits": {"in_progress": 0}}, "wip_limits"),
        ({"wip_limits": {"in_progress": "3"}}, "wip_limits"),
        ({"review_scope": "everything"}, "review_scope"),
    ],
)
def test_project_create_validation(org, project, pm, dev_team, fields, field) -> None:  # type: ignore[no-untyped-def]
    data = {"code": "HR", "name": "HR", "team": dev_team, **fields}
    with pytest.raises(ValidationFailed) as exc:
        ps.project_create(actor=pm, **data)
    assert field in exc.value.errors


def test_project_team_must_be_a_development_team(org, pm) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="not a development"):
        ps.project_create(actor=pm, code="HR", name="HR", team=org.desk)


def test_project_update_audits_the_changed_fields(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    extra = ServiceFactory(name="Payslips")
    ps.project_update(
        project=project,
        actor=org.admin,
        name="Payroll NG",
        services=[org.service, extra],
        wip_limits={"in_review": 2},
        review_scope="all_services",
    )
    project.refresh_from_db()
    assert project.name == "Payroll NG" and project.wip_limits == {"in_review": 2}
    event = history_of(project).get(action="updated")
    assert event.changes["name"] == ["Payroll", "Payroll NG"]
    assert event.changes["services"] == [["Payroll"], ["Payroll", "Payslips"]]
    assert set(event.changes) == {"name", "services", "wip_limits", "review_scope"}
    # nothing changed: no row
    ps.project_update(project=project, actor=org.admin, name="Payroll NG")
    assert history_of(project).filter(action="updated").count() == 1


def test_project_code_is_fixed_once_it_has_work_items(org, project) -> None:  # type: ignore[no-untyped-def]
    ps.project_update(project=project, actor=org.admin, code="PAYR")  # nothing in it yet
    project.refresh_from_db()
    assert project.code == "PAYR"
    ps.work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")
    with pytest.raises(ValidationFailed, match="cannot change"):
        ps.project_update(project=project, actor=org.admin, code="PAY")


def test_project_update_refuses_fields_it_does_not_own(org, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="archived_at"):
        ps.project_update(project=project, actor=org.admin, archived_at=None)
    with pytest.raises(ActionForbidden):
        ps.project_update(project=project, actor=org.developer, name="Mine")


def test_archive_and_restore(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    ps.project_archive(project=project, actor=pm, reason="Replaced by PAY2")
    project.refresh_from_db()
    assert project.archived_at is not None and project.archived_by == pm
    with pytest.raises(IllegalTransition):
        ps.project_archive(project=project, actor=pm)
    with pytest.raises(ValidationFailed, match="archived"):
        ps.release_create(actor=org.admin, project=project, version="9.0")
    ps.project_restore(project=project, actor=pm)
    project.refresh_from_db()
    assert project.archived_at is None and project.archived_by is None
    actions = list(history_of(project).values_list("action", flat=True))
    assert actions == ["archived", "restored"]
    assert history_of(project).get(action="archived").comment == "Replaced by PAY2"
    with pytest.raises(ActionForbidden):
        ps.project_archive(project=project, actor=org.developer)


def test_archived_project_takes_no_new_defect_from_an_incident(org, project) -> None:  # type: ignore[no-untyped-def]
    ps.project_archive(project=project, actor=org.admin)
    assert ps.project_for_service(org.service.pk) is None


# --- API ----------------------------------------------------------------------------


def test_api_create_update_archive_restore_history(org, pm, dev_team) -> None:  # type: ignore[no-untyped-def]
    api = api_as(pm)
    svc = ServiceFactory(name="HR portal")
    r = api.post(
        "/api/v1/projects/",
        {
            "code": "HR",
            "name": "HR",
            "team": dev_team.pk,
            "services": [svc.pk],
            "project_manager": pm.pk,
            "wip_limits": {"in_progress": 4},
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["code"] == "HR" and r.json()["wip_limits"] == {"in_progress": 4}
    r = api.patch("/api/v1/projects/HR/", {"description": "People"}, format="json")
    assert r.status_code == 200 and r.json()["description"] == "People"
    r = api.patch("/api/v1/projects/HR/", {"archived_at": None}, format="json")
    assert r.status_code == 400 and "archived_at" in r.json()["detail"]
    assert api.post("/api/v1/projects/HR/archive/", {"reason": "done"}).status_code == 200
    assert api.get("/api/v1/projects/HR/").json()["archived_at"]  # still readable
    codes = [p["code"] for p in api.get("/api/v1/projects/").json()["results"]]
    assert "HR" not in codes
    codes = [p["code"] for p in api.get("/api/v1/projects/?archived=true").json()["results"]]
    assert codes == ["HR"]
    r = api.post("/api/v1/defects/", {"project": "HR", "title": "Broken"}, format="json")
    assert r.status_code == 400 and "archived" in str(r.json())
    r = api.post("/api/v1/releases/", {"project": "HR", "version": "1.0"}, format="json")
    assert r.status_code == 400 and "archived" in str(r.json())
    r = api.post(
        "/api/v1/iterations/",
        {"project": "HR", "name": "S1", "start": "2026-12-07", "end": "2026-12-18"},
        format="json",
    )
    assert r.status_code == 400 and "archived" in str(r.json())
    assert api.post("/api/v1/projects/HR/restore/").status_code == 200
    rows = api.get("/api/v1/projects/HR/history/").json()["results"]
    assert [row["action"] for row in rows] == ["created", "updated", "archived", "restored"]


def test_api_refuses_others_with_a_message(org, project, dev_team) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.developer)
    r = api.post(
        "/api/v1/projects/", {"code": "HR", "name": "HR", "team": dev_team.pk}, format="json"
    )
    assert r.status_code == 403 and "Project Managers" in r.json()["detail"]
    assert api.patch("/api/v1/projects/PAY/", {"name": "X"}, format="json").status_code == 403
    assert api.post("/api/v1/projects/PAY/archive/").status_code == 403
    # requesters do not see projects at all
    assert api_as(org.requester).get("/api/v1/projects/PAY/history/").status_code == 404


def test_api_duplicate_code_and_bad_wip_limits_are_400(org, project, dev_team) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.admin)
    r = api.post(
        "/api/v1/projects/", {"code": "pay", "name": "Other", "team": dev_team.pk}, format="json"
    )
    assert r.status_code == 400 and "exists already" in r.json()["detail"]
    r = api.patch("/api/v1/projects/PAY/", {"wip_limits": {"doing": 1}}, format="json")
    assert r.status_code == 400 and "wip_limits" in r.json()["fields"]
    r = api.patch("/api/v1/projects/PAY/", {"wip_limits": [1]}, format="json")
    assert r.status_code == 400


# --- pages --------------------------------------------------------------------------


def test_new_project_button_only_for_who_may(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    assert 'id="new-project"' in client_for(pm).get("/projects/").content.decode()
    html = client_for(org.developer).get("/projects/").content.decode()
    assert 'id="new-project"' not in html
    assert client_for(org.developer).get("/projects/new/").status_code == 403
    # the board header links settings for who may manage projects only
    assert 'id="project-settings"' in client_for(pm).get("/projects/PAY/").content.decode()
    assert (
        'id="project-settings"'
        not in client_for(org.developer).get("/projects/PAY/").content.decode()
    )


def test_project_create_page(org, pm, dev_team) -> None:  # type: ignore[no-untyped-def]
    c = client_for(pm)
    page = c.get("/projects/new/")
    assert page.status_code == 200 and 'name="wip_limits"' in page.content.decode()
    r = c.post(
        "/projects/new/",
        {
            "code": "HR",
            "name": "HR",
            "team": dev_team.pk,
            "review_scope": "touched",
            "wip_limits": '{"in_progress": 2}',
        },
    )
    assert r.status_code == 302 and r["Location"] == "/projects/HR/"
    assert Project.objects.get(code="HR").wip_limits == {"in_progress": 2}
    # an error keeps the form with the message
    r = c.post("/projects/new/", {"code": "HR", "name": "HR again", "team": dev_team.pk})
    assert r.status_code == 400
    html = r.content.decode()
    assert "exists already" in html and 'value="HR again"' in html


def test_project_settings_page_edit_archive_restore(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    c = client_for(pm)
    page = c.get("/projects/PAY/settings/").content.decode()
    assert 'id="project-form"' in page and "Archive PAY" in page
    r = c.post(
        "/projects/PAY/settings/",
        {
            "code": "PAY",
            "name": "Payroll",
            "team": org.dev.pk,
            "description": "Pay",
            "services": [org.service.pk],
            "review_scope": "touched",
            "wip_limits": "",
        },
    )
    assert r.status_code == 302
    project.refresh_from_db()
    assert project.description == "Pay"
    r = c.post("/projects/PAY/settings/", {"code": "PAY", "name": "", "team": org.dev.pk})
    assert r.status_code == 400
    assert c.post("/projects/PAY/settings/archive/", {"reason": "old"}).status_code == 302
    assert "PAY" not in [p.code for p in c.get("/projects/").context["projects"]]
    archived = c.get("/projects/?archived=true").context["projects"]
    assert [p.code for p in archived] == ["PAY"]
    page = c.get("/projects/PAY/settings/").content.decode()
    assert 'id="archived-badge"' in page and "Restore PAY" in page
    assert c.get("/projects/PAY/").status_code == 200  # the board stays readable
    # not offered in the create form any more
    form = c.get("/work/new/").content.decode()
    assert 'value="PAY"' not in form
    assert c.post("/projects/PAY/settings/restore/").status_code == 302
    project.refresh_from_db()
    assert project.archived_at is None


def test_settings_page_is_read_only_for_others(org, project) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.developer)
    page = c.get("/projects/PAY/settings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="project-form"' not in html and "Archive PAY" not in html
    assert c.post("/projects/PAY/settings/", {"name": "X"}).status_code == 403
    assert c.post("/projects/PAY/settings/archive/").status_code == 403


# --- Django admin -------------------------------------------------------------------


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize(
    "model",
    ["project", "release", "workitem", "iteration", "emergencydecision", "timeentry", "devlink"],
)
def test_admin_changelists_render(
    org, project, superuser, model, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        Release.objects.create(project=project, version=f"1.{i}")
        ps.work_item_create(actor=org.developer, kind="defect", project=project, title=f"T{i}")
    c = client_for(superuser)
    with django_assert_max_num_queries(12):
        r = c.get(f"/admin/projects/{model}/")
    assert r.status_code == 200


def test_admin_add_and_change_go_through_the_service(org, project, superuser, dev_team) -> None:  # type: ignore[no-untyped-def]
    c = client_for(superuser)
    r = c.post(
        "/admin/projects/project/add/",
        {
            "code": "hr",
            "name": "HR",
            "team": dev_team.pk,
            "services": [org.service.pk],
            "review_scope": "touched",
            "wip_limits": "{}",
            "description": "",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    hr = Project.objects.get(code="HR")
    assert history_of(hr).get(action="created").actor == superuser
    r = c.post(
        f"/admin/projects/project/{hr.pk}/change/",
        {
            "code": "HR",
            "name": "Human resources",
            "team": dev_team.pk,
            "services": [org.service.pk],
            "review_scope": "touched",
            "wip_limits": '{"in_progress": 2}',
            "description": "",
        },
    )
    assert r.status_code == 302
    event = history_of(hr).get(action="updated")
    assert event.actor == superuser and set(event.changes) == {"name", "wip_limits"}
    # the service's checks show on the form
    r = c.post(
        f"/admin/projects/project/{hr.pk}/change/",
        {
            "code": "HR",
            "name": "HR",
            "team": dev_team.pk,
            "review_scope": "touched",
            "wip_limits": '{"doing": 1}',
        },
    )
    assert r.status_code == 200 and "not a board column" in r.content.decode()
    # archive is an admin action calling the service
    r = c.post(
        "/admin/projects/project/",
        {"action": "archive_projects", "_selected_action": [hr.pk]},
    )
    assert r.status_code == 302
    hr.refresh_from_db()
    assert hr.archived_at is not None
    assert history_of(hr).filter(action="archived", actor=superuser).exists()


def test_admin_work_items_and_releases_are_read_only(org, project, superuser) -> None:  # type: ignore[no-untyped-def]
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="T")
    c = client_for(superuser)
    assert c.get("/admin/projects/workitem/add/").status_code == 403
    r = c.post(f"/admin/projects/workitem/{item.pk}/change/", {"title": "changed"})
    assert r.status_code == 403
    assert WorkItem.objects.get(pk=item.pk).title == "T"
    assert c.get("/admin/projects/project/add/").status_code == 200
    assert AuditEvent.objects.filter(action="updated").count() == 0


def test_project_list_and_settings_query_counts_do_not_grow(
    org, project, pm, dev_team, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    c = client_for(pm)
    c.get("/projects/")  # warm caches
    with django_assert_max_num_queries(40) as ctx:
        c.get("/projects/")
    few = len(ctx.captured_queries)
    for n in range(10):
        p = ps.project_create(actor=pm, code=f"P{n}X", name=f"Project {n}", team=dev_team)
        p.services.add(org.service)
    with django_assert_max_num_queries(few):
        r = c.get("/projects/")
    assert r.status_code == 200 and len(r.context["projects"]) == 11
    for n in range(5):
        ps.project_update(project=project, actor=pm, description=f"v{n}")
    with django_assert_max_num_queries(30):
        assert c.get("/projects/PAY/settings/").status_code == 200


def test_archived_project_takes_no_work_item_or_iteration_from_any_path(org, project, pm) -> None:  # type: ignore[no-untyped-def]
    """The refusal is in the services themselves, so the iterations page (which calls
    iteration_create directly) and any other caller are refused too, with the reason."""
    from datetime import date

    from django.test import Client

    from projects import iterations as its
    from projects.models import Iteration, WorkItem

    ps.project_archive(project=project, actor=pm)
    project.refresh_from_db()
    with pytest.raises(ValidationFailed, match="archived"):
        ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    with pytest.raises(ValidationFailed, match="archived"):
        its.iteration_create(
            actor=pm, project=project, name="S1", start=date(2026, 12, 7), end=date(2026, 12, 18)
        )
    browser = Client()
    browser.force_login(pm)
    r = browser.post(
        f"/projects/{project.code}/iterations/",
        {"name": "S1", "start": "2026-12-07", "end": "2026-12-18"},
    )
    assert r.status_code == 400 and b"archived" in r.content
    page = browser.get(f"/projects/{project.code}/iterations/").content.decode()
    assert 'data-action="create-iteration"' not in page and 'id="archived-note"' in page
    board = browser.get(f"/projects/{project.code}/").content.decode()
    assert 'id="archived-badge"' in board
    assert "/work/new/?project=" not in board and 'id="new-release"' not in board
    assert not Iteration.objects.filter(project=project).exists()
    assert not WorkItem.objects.filter(project=project).exists()
