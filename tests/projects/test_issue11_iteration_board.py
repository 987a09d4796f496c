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
    assert "data-move=" not in page and "Cards move while the iteration runs" in page


def test_velocity_api(org, project, pm, release) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Issue 11: velocity through the API, as the iterations page shows it: the last
    closed iterations oldest first, committed and completed hours, their average."""
    from datetime import timedelta

    from projects import services as ps
    from tests.conftest import api_as
    from tests.projects.test_iterations import MONDAY

    for n in range(2):
        it = sprint(project, pm, name=f"S{n}", start=MONDAY + timedelta(days=14 * n), days=4)
        w = item(project, org, f"w{n}", str(2 * n + 2), release)
        its.work_item_plan(item=w, iteration=it, actor=pm)
        its.work_item_plan(item=item(project, org, f"u{n}", "1"), iteration=it, actor=pm)
        its.iteration_start(iteration=it, actor=pm)
        ps.work_fix(item=ps.work_start(item=w, actor=org.developer), actor=org.developer)
        its.iteration_close(iteration=it, actor=pm)
    r = api_as(org.developer).get("/api/v1/iterations/velocity/?project=PAY")
    assert r.status_code == 200, r.content
    body = r.json()
    assert [i["name"] for i in body["iterations"]] == ["S0", "S1"]
    assert [i["completed_hours"] for i in body["iterations"]] == ["2.0", "4.0"]
    assert [i["committed_hours"] for i in body["iterations"]] == ["3.0", "5.0"]
    assert body["average_completed_hours"] == 3.0
    r = api_as(org.developer).get("/api/v1/iterations/velocity/?project=NOPE")
    assert r.status_code == 400 and "NOPE" in r.json()["detail"] + str(r.json())
    # a requester reads no project: PAY is as unknown to them as NOPE (no existence leak)
    hidden = api_as(org.requester).get("/api/v1/iterations/velocity/?project=PAY")
    assert hidden.status_code == 400 and "PAY" in str(hidden.json())


def test_duplicate_of_is_named_by_key(org, project) -> None:  # type: ignore[no-untyped-def]
    """The original of a duplicate is named by its key (or id) in a text box, not picked
    from a list of every item of the project (thousands at scale); an unknown key is a
    400 that names it."""
    from projects import services as ps
    from projects.models import WorkItem
    from tests.conftest import api_as

    original = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="o")
    dup = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="d")
    dev = Client()
    dev.force_login(org.developer)
    page = dev.get(dup.get_absolute_url()).content.decode()
    assert 'name="duplicate_of"' in page and f'<option value="{original.pk}"' not in page
    r = api_as(org.developer).post(
        f"/api/v1/defects/{dup.key}/transitions/mark_duplicate/", {"duplicate_of": "DEF-999999"}
    )
    assert r.status_code == 400 and "DEF-999999" in str(r.json())
    r = dev.post(f"/work/{dup.key}/transitions/mark_duplicate/", {"duplicate_of": original.key})
    assert r.status_code == 302, r.content
    assert WorkItem.objects.get(pk=dup.pk).duplicate_of_id == original.pk
    again = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    r = api_as(org.developer).post(
        f"/api/v1/defects/{again.key}/transitions/mark_duplicate/", {"duplicate_of": original.pk}
    )
    assert r.status_code == 200, r.content


def test_iteration_cards_show_labels_and_blockers_like_the_board(org, project, pm) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from projects.iterations import work_item_edit
    from projects.services import structure

    it, w = _planned_and_started(project, org, pm)
    work_item_edit(item=w, actor=org.developer, labels=["login"])
    blocker = item(project, org, "blocker", "1")
    structure.work_item_link_add(item=blocker, other=w, kind="blocks", actor=org.developer)
    dev = Client()
    dev.force_login(org.developer)
    page = dev.get(it.get_absolute_url()).content.decode()
    card = page[page.index(f'data-item="{w.key}"') :]
    card = card[: card.index("</div>\n</div>") if "</div>\n</div>" in card else 2000]
    assert 'class="badge label">login' in card and "data-blocked" in card
