"""Issue 11 review fix: pages offer a "new" form on an archived project only when the
service would take it (``permissions.takes_new_work``): the work item page offered "Add
sub-task" on an archived project's item, which ``work_item_create`` refuses."""

from __future__ import annotations

from django.test import Client

from projects import permissions
from projects import services as ps


def page(user, url: str) -> str:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    res = c.get(url)
    assert res.status_code == 200, url
    return res.content.decode()


def test_no_sub_task_form_on_an_archived_projects_item(org, project) -> None:  # type: ignore[no-untyped-def]
    item = ps.work_item_create(actor=org.developer, kind="enhancement", project=project, title="x")
    assert 'id="subtask-form"' in page(org.developer, f"/work/{item.key}/")
    ps.project_archive(project=project, actor=org.admin)
    project.refresh_from_db()
    item.refresh_from_db()
    assert not permissions.can_add_child(org.developer, item)
    html = page(org.developer, f"/work/{item.key}/")
    assert 'id="subtask-form"' not in html
    assert 'id="work-edit"' in html or "Edit" in html  # editing stays offered


def test_no_new_release_or_iteration_offered_on_an_archived_project(org, project) -> None:  # type: ignore[no-untyped-def]
    ps.project_archive(project=project, actor=org.admin)
    board = page(org.admin, f"/projects/{project.code}/")
    assert 'id="new-release"' not in board and "New work item" not in board
    assert "New release" not in page(org.admin, "/projects/?archived=1")
