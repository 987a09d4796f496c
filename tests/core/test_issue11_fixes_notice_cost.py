"""Issue 11 review fix: telling a record's watchers costs the same few queries however
many watch (their roles in one query, one INSERT for the outbox rows), inside the
comment's locked transaction — it was about three queries a watcher."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import OutboxMessage
from core.roles import Role
from core.watchers import watch_add
from projects import services as ps
from projects.models import Project
from tests.factories import UserFactory


def _comment_queries(org, watchers: int, run: str) -> int:  # type: ignore[no-untyped-def]
    project = Project.objects.create(code=f"P{run}", name=f"Project {run}", team=org.dev)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    for n in range(watchers):
        user = UserFactory(username=f"w{run}_{n}", roles=[Role.DEVELOPER])
        watch_add(record=item, user=user, actor=user)
    OutboxMessage.objects.all().delete()
    with CaptureQueriesContext(connection) as ctx:
        ps.work_comment(item=item, actor=org.developer, body="hello")
    told = OutboxMessage.objects.filter(event="work_item.commented").count()
    assert told == watchers
    return len(ctx.captured_queries)


def test_a_comment_costs_the_same_with_1_or_10_watchers(org) -> None:  # type: ignore[no-untyped-def]
    _comment_queries(org, 1, "A")  # warm the caches (content types...)
    one = _comment_queries(org, 1, "B")
    ten = _comment_queries(org, 10, "C")
    assert ten == one, (one, ten)
    assert ten <= 14


def test_a_state_change_costs_the_same_with_1_or_10_watchers(org) -> None:  # type: ignore[no-untyped-def]
    counts = []
    for run, watchers in enumerate((1, 1, 10)):
        project = Project.objects.create(code=f"S{run}", name=f"S {run}", team=org.dev)
        item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
        for n in range(watchers):
            user = UserFactory(username=f"s{run}_{n}", roles=[Role.DEVELOPER])
            watch_add(record=item, user=user, actor=user)
        with CaptureQueriesContext(connection) as ctx:
            ps.work_triage(item=item, actor=org.developer)
        counts.append(len(ctx.captured_queries))
        assert (
            OutboxMessage.objects.filter(
                event="work_item.status_changed", object_id=item.pk
            ).count()
            == watchers
        )
    assert counts[1] == counts[2], counts  # the first run warms the caches
