"""Issue 11: the iteration board works like the project board: while the iteration runs,
those who may move cards drag them across its columns (the same move view, permission and
service); others and closed iterations get a read-only board."""

from __future__ import annotations

from django.test import Client

from core.roles import Role
from projects import iterations as its
from tests.factories import UserFactory
from tests.projects.test_iterations import item, pm, sprint  # noqa: F401  (fixture)


def _planned_and_started(project, org, manager):  # type: ignore[no-untyped-def]
    it = sprint(project, manager)
    w = item(project, org, "drag me", "3")
    its.work_item_plan(item=w, iteration=it, actor=manager)
    its.iteration_start(iteration=it, actor=manager)
    return it, w


def test_iteration_board_offers_drag_to_who_may_move(org, project, pm) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    it, w = _planned_and_started(project, org, pm)
    dev = Client()
    dev.force_login(org.developer)
    page = dev.get(it.get_absolute_url()).content.decode()
    assert f'data-move="/work/{w.key}/move/"' in page
    assert 'id="board-dialog"' in page and "js/board.js" in page
    assert 'data-state="open"' in page and "Drag a card" in page
    # the move itself is the board's: Open → Triaged fires triage
    r = dev.post(f"/work/{w.key}/move/", {"to": "triaged"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["X-Board-Action"] == "moved"
    w.refresh_from_db()
    assert w.status == "triaged"

    outsider = Client()
    outsider.force_login(UserFactory(username="other-dev", roles=[Role.DEVELOPER]))
    page = outsider.get(it.get_absolute_url()).content.decode()
    assert "data-move=" not in page and "moves cards" in page


def test_closed_iteration_board_is_read_only(org, project, pm) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    it, w = _planned_and_started(project, org, pm)
    its.iteration_close(iteration=it, actor=pm, move_to=None)
    dev = Client()
    dev.force_login(org.developer)
    page = dev.get(it.get_absolute_url()).content.decode()
    assert "data-move=" not in page
