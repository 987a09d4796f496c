"""Issue 11: the backlog is read a page at a time, in the same order as before (what hurts
users most first), at a cost that does not grow with the backlog: it listed every open
item, 1.4 s at 10 000 items."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from projects import selectors
from projects.models import WorkItem
from tests.factories import incident
from tests.projects.test_board import make


def _keys(rows):  # type: ignore[no-untyped-def]
    return [r.key for r in rows]


def test_pages_follow_the_backlog_order(org, project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(selectors, "BACKLOG_PAGE", 4)
    for n in range(9):
        make(project, org, f"p{n}", priority=1 + n % 5)
    for n in range(3):  # items that hurt users: first, whatever their priority
        hurt = make(project, org, f"hurt{n}", priority=5)
        for _ in range(n + 1):
            hurt.incidents.add(incident(actor=org.requester, service=org.service))
    make(project, org, "done").delete()  # gaps in ids do not matter
    everything = _keys(
        selectors.backlog_order(
            selectors.work_items(org.developer).filter(project=project, status="open")
        )
    )
    pages, page, more = [], 1, True
    while more:
        rows, more = selectors.backlog_page(org.developer, project, page)
        pages.append(_keys(rows))
        page += 1
    assert [len(p) for p in pages] == [4, 4, 4]
    assert sum(pages, []) == everything
    assert pages[0][:3] == [k for k in everything if k in pages[0][:3]]
    assert all(
        WorkItem.objects.get(pk=r.pk).incidents.exists()
        for r in selectors.backlog_page(org.developer, project, 1)[0][:3]
    )
    assert selectors.backlog_page(org.developer, project, 9) == ([], False)


def test_backlog_page_costs_the_same_at_any_size(org, project) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.developer)
    make(project, org, "first").incidents.add(incident(actor=org.requester, service=org.service))
    make(project, org, "second")
    url = f"/projects/{project.code}/backlog/"
    c.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            page = c.get(url)
        assert page.status_code == 200
        return len(ctx.captured_queries)

    few = count()
    WorkItem.objects.bulk_create(
        [
            WorkItem(
                kind="defect",
                number=50_000 + n,
                project=project,
                title=f"b{n}",
                reported_by=org.developer,
            )
            for n in range(150)
        ]
    )
    assert count() == few
    page = c.get(url).content.decode()
    assert page.count('<tr data-item="') == selectors.BACKLOG_PAGE and 'rel="next"' in page
    second = c.get(url + "?page=2").content.decode()
    assert second.count('<tr data-item="') == 52 and 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert c.get(url + "?page=99999999999999999999999").status_code == 200
    far = c.get(url + "?page=9000000000000000000")  # a bigint, but no OFFSET of 9e20
    assert far.status_code == 200 and "No more items." in far.content.decode()
