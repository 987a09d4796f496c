"""Issue 11, the board works: a drop fires the transition joining the two columns through
the work item page's permission check and service; a transition that needs input opens
its form; an illegal or forbidden move answers 409/403 with the reason; filters,
swimlanes, WIP limits and the closed/won't-fix columns; query count pinned."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.exceptions import IllegalTransition
from core.models import AuditEvent
from core.roles import Role
from projects import iterations as its
from projects import services as ps
from projects.board import MOVES, transition_for_move
from projects.models import Project, WorkItem
from tests.factories import UserFactory, incident


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def make(project, org, title="w", kind="defect", **kw) -> WorkItem:  # type: ignore[no-untyped-def]
    return ps.work_item_create(actor=org.developer, kind=kind, project=project, title=title, **kw)


def move(client, item, to, **data):  # type: ignore[no-untyped-def]
    return client.post(f"/work/{item.key}/move/", {"to": to, **data}, HTTP_HX_REQUEST="true")


def refreshed(item: WorkItem) -> WorkItem:
    return WorkItem.objects.get(pk=item.pk)


def test_moves_come_from_the_fsm_graph() -> None:
    """Issue 11 (board): each (from, to) pair maps to the one transition joining them;
    the system's 'released' is not a person's move."""
    assert MOVES[("open", "triaged")] == "triage"
    assert MOVES[("triaged", "in_progress")] == "start"
    assert MOVES[("in_review", "in_progress")] == "rework"
    assert MOVES[("released", "in_progress")] == "reopen"
    assert MOVES[("open", "wont_fix")] == "wont_fix"
    assert ("fixed", "released") not in MOVES


def test_board_drop_fires_the_transition_through_the_service(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): a legal drop fires the transition, audited, and answers the card."""
    item = make(project, org)
    r = move(client_for(org.developer), item, "triaged")
    assert r.status_code == 200, r.content
    assert r["X-Board-Action"] == "moved"
    assert f'data-item="{item.key}"' in r.content.decode()
    assert refreshed(item).status == "triaged"
    assert AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(WorkItem),
        object_id=item.pk,
        to_state="triaged",
    ).exists()


def test_board_illegal_drop_answers_409_with_the_reason(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): an illegal move is refused with its reason and nothing changes."""
    item = make(project, org)
    r = move(client_for(org.developer), item, "in_review")
    assert r.status_code == 409
    assert "cannot move from Open to In review" in r.content.decode()
    assert refreshed(item).status == "open"
    ps.work_start(item=item, actor=org.developer)
    fixed = ps.work_fix(item=refreshed(item), actor=org.developer, release=release)
    with pytest.raises(IllegalTransition, match="released when its release goes live"):
        transition_for_move(fixed, "released")


def test_board_drop_by_someone_outside_the_team_answers_403(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): the same permission function as the work item page refuses."""
    item = make(project, org)
    r = move(client_for(org.agent), item, "triaged")
    assert r.status_code == 403
    assert "Payroll Dev" in r.content.decode()
    assert refreshed(item).status == "open"


def test_board_unknown_column_is_a_400(org, project) -> None:  # type: ignore[no-untyped-def]
    item = make(project, org)
    assert move(client_for(org.developer), item, "nowhere").status_code == 400


def test_board_move_that_needs_input_opens_its_form(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): 'won't fix' needs a reason: the drop answers the form, nothing
    moves; the form posted without a reason is a 400; with one, it moves."""
    item = make(project, org)
    c = client_for(org.developer)
    r = move(c, item, "wont_fix")
    assert r.status_code == 200 and r["X-Board-Action"] == "form"
    body = r.content.decode()
    assert 'name="comment"' in body and 'name="from_form"' in body
    assert refreshed(item).status == "open"
    r = move(c, item, "wont_fix", from_form="1")
    assert r.status_code == 400 and refreshed(item).status == "open"
    r = move(c, item, "wont_fix", from_form="1", comment="Works as designed.")
    assert r.status_code == 204 and r["HX-Refresh"] == "true"
    assert refreshed(item).status == "wont_fix"


def test_board_fix_asks_for_the_release_only_without_a_target(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): fixing opens the form unless the item has a target release."""
    c = client_for(org.developer)
    loose = make(project, org, "loose")
    aimed = make(project, org, "aimed", target_release=release)
    for i in (loose, aimed):
        ps.work_start(item=i, actor=org.developer)
    assert move(c, loose, "fixed")["X-Board-Action"] == "form"
    assert refreshed(loose).status == "in_progress"
    r = move(c, aimed, "fixed")
    assert r["X-Board-Action"] == "moved"
    assert refreshed(aimed).status == "fixed"
    r = move(c, loose, "fixed", from_form="1", release=str(release.pk))
    assert r.status_code == 204 and refreshed(loose).status == "fixed"


def test_board_wip_limit_shown_and_warned(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): the team lead sets a WIP limit; the column shows 2/1 and warns."""
    for n in range(2):
        ps.work_start(item=make(project, org, f"w{n}"), actor=org.developer)
    c = client_for(org.developer)  # the team's lead
    r = c.post(f"/projects/{project.code}/board/wip/", {"wip_in_progress": "1"})
    assert r.status_code == 302
    assert Project.objects.get(pk=project.pk).wip_limits == {"in_progress": 1}
    page = c.get(f"/projects/{project.code}/").content.decode()
    assert "2/1" in page and "Over the WIP limit of 1 by 1" in page
    assert (
        c.post(f"/projects/{project.code}/board/wip/", {"wip_in_progress": "x"}).status_code == 400
    )
    other = UserFactory(username="dev_other", roles=[Role.DEVELOPER])
    r = client_for(other).post(f"/projects/{project.code}/board/wip/", {"wip_in_progress": "9"})
    assert r.status_code == 403
    assert Project.objects.get(pk=project.pk).wip_limits == {"in_progress": 1}


def _keys(page: str, items: list[WorkItem]) -> set[str]:
    return {i.key for i in items if f'data-item="{i.key}"' in page}


def test_board_filters(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): assignee, kind, release, iteration and 'has incidents' filters
    (work items have no labels yet, so there is no label filter)."""
    mine = make(project, org, "mine", assignee=org.developer)
    enh = make(project, org, "enh", kind="enhancement", target_release=release)
    hurt = make(project, org, "hurt")
    hurt.incidents.add(incident(actor=org.requester, service=org.service))
    sprint = its.iteration_create(
        actor=org.developer,
        project=project,
        name="S1",
        start=date.today(),
        end=date.today() + timedelta(days=10),
    )
    its.work_item_plan(item=enh, actor=org.developer, iteration=sprint)
    everything = [mine, enh, hurt]
    c = client_for(org.developer)

    def shown(query: str) -> set[str]:
        return _keys(c.get(f"/projects/{project.code}/?{query}").content.decode(), everything)

    assert shown("") == {mine.key, enh.key, hurt.key}
    assert shown("assignee=me") == {mine.key}
    assert shown(f"assignee={org.developer.pk}") == {mine.key}
    assert shown("assignee=none") == {enh.key, hurt.key}
    assert shown("kind=enhancement") == {enh.key}
    assert shown(f"release={release.pk}") == {enh.key}
    assert shown(f"iteration={sprint.pk}") == {enh.key}
    assert shown("iteration=none") == {mine.key, hurt.key}
    assert shown("has_incidents=true") == {hurt.key}


def test_board_done_columns_hidden_until_asked_and_swimlanes(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): closed and won't-fix columns appear with ?done=1; swimlanes by
    assignee group the cards."""
    dropped = make(project, org, "dropped")
    ps.work_wont_fix(item=dropped, actor=org.developer, comment="no")
    make(project, org, "mine", assignee=org.developer)
    make(project, org, "nobody's")
    c = client_for(org.developer)
    page = c.get(f"/projects/{project.code}/").content.decode()
    assert 'data-column="wont_fix"' not in page and dropped.key not in page
    page = c.get(f"/projects/{project.code}/?done=1").content.decode()
    assert 'data-column="wont_fix"' in page and 'data-column="closed"' in page
    assert f'data-item="{dropped.key}"' in page
    page = c.get(f"/projects/{project.code}/?lanes=assignee").content.decode()
    assert 'data-lane=""' in page and f'data-lane="{org.developer.pk}"' in page


def test_board_vendors_sortable_without_a_cdn(org, project) -> None:  # type: ignore[no-untyped-def]
    page = client_for(org.developer).get(f"/projects/{project.code}/").content.decode()
    assert "vendor/sortablejs/Sortable.min.js" in page
    assert "cdn" not in page.lower()


def _board_queries(client: Client, project: Project) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(f"/projects/{project.code}/?done=1")
    assert r.status_code == 200
    return len(ctx.captured_queries)


def test_board_query_count_does_not_grow_with_items(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): the same number of queries at 10 and at 200 items (pinned)."""
    c = client_for(org.developer)
    states = ["open", "triaged", "in_progress"]
    for n in range(10):
        i = make(project, org, f"a{n}", assignee=org.developer, target_release=release)
        if states[n % 3] == "triaged":
            ps.work_triage(item=i, actor=org.developer)
        elif states[n % 3] == "in_progress":
            ps.work_start(item=i, actor=org.developer)
    _board_queries(c, project)  # warm the process-wide caches (content types)
    at_ten = _board_queries(c, project)
    WorkItem.objects.bulk_create(
        [
            WorkItem(
                kind="defect",
                number=10_000 + n,
                project=project,
                title=f"b{n}",
                reported_by=org.developer,
                assignee=org.developer,
                target_release=release,
            )
            for n in range(190)
        ]
    )
    assert WorkItem.objects.filter(project=project).count() == 200
    assert _board_queries(c, project) == at_ten
    # pinned: session, user, roles, project, may move, counts, one for every column's
    # cards, choices, and (issue 11, work item structure) the label and component
    # filters' choices, the cards' labels and their open blockers: one query each for
    # the whole board
    assert at_ten == 17  # issue 12: +1, the bell's unread count


def test_board_column_keeps_backlog_order_beyond_its_first_cards(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): a column shows its first cards in the backlog's order (what hurts
    users first): a P5 item with an open incident leads a column of 60 P1 items."""
    WorkItem.objects.bulk_create(
        [
            WorkItem(
                kind="defect",
                number=20_000 + n,
                project=project,
                title=f"p1 {n}",
                reported_by=org.developer,
                priority=1,
            )
            for n in range(60)
        ]
    )
    hurt = make(project, org, "hurts users", priority=5)
    hurt.incidents.add(incident(actor=org.requester, service=org.service))
    page = client_for(org.developer).get(f"/projects/{project.code}/").content.decode()
    open_column = page[page.index('data-state="open"') :]
    assert open_column.index(f'data-item="{hurt.key}"') < open_column.index('data-item="DEF-200')
    assert "and 11 more" in page


def test_board_cards_draggable_only_for_who_may_move_them(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board): the page offers the drag only where the move's own permission
    check (can_work_on, asked first by ensure_can_fire_work) says yes."""
    item = make(project, org)
    mover = client_for(org.developer).get(f"/projects/{project.code}/").content.decode()
    viewer = client_for(org.agent).get(f"/projects/{project.code}/").content.decode()
    assert f'data-move="/work/{item.key}/move/"' in mover
    assert "data-move=" not in viewer and f'data-item="{item.key}"' in viewer


def test_board_done_columns_show_their_latest_cards_first(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (board, one query for every column's cards): the won't-fix column shows its
    20 latest cards, newest first, and counts the rest; the open column beside it keeps
    the backlog's order."""
    from django.utils import timezone

    items = [make(project, org, f"dropped {n}") for n in range(25)]
    for item in items:
        ps.work_wont_fix(item=item, actor=org.developer, comment="no")
    now = timezone.now()
    for n, item in enumerate(items):  # the first dropped is the latest touched
        WorkItem.objects.filter(pk=item.pk).update(updated_at=now - timedelta(minutes=n))
    urgent = make(project, org, "urgent", priority=1)
    later = make(project, org, "later", priority=4)
    page = client_for(org.developer).get(f"/projects/{project.code}/?done=1").content.decode()
    column = page[page.index('data-state="wont_fix"') :]
    shown = [i.key for i in items if f'data-item="{i.key}"' in column]
    assert shown == [i.key for i in items[:20]]
    assert [column.index(f'data-item="{k}"') for k in shown] == sorted(
        column.index(f'data-item="{k}"') for k in shown
    )
    assert "and 5 more" in column
    open_column = page[page.index('data-state="open"') : page.index('data-state="triaged"')]
    assert open_column.index(urgent.key) < open_column.index(later.key)
