"""Issue 13: an incident list fetches the links few rows have (problem, causing change,
master) only for the rows that have one, and the prefetches that lost their default order
(hypercare routes, clocks) still show them in that order."""

from __future__ import annotations

from unittest import mock

from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from core.querysets import sparse_fetch
from itsm import selectors
from itsm import services as itsm
from itsm.models import Change, Incident, Problem
from itsm.services.problems import problem_create, problem_link_incidents


def _raise(org, title: str) -> Incident:  # type: ignore[no-untyped-def]
    return itsm.incident_create(actor=org.requester, service=org.service, title=title)


def _compiled(run) -> set[type]:  # type: ignore[no-untyped-def]
    """The models of every query the ORM compiled while ``run()`` ran (even one it then
    never sent, as a prefetch that matches nothing)."""
    seen: set[type] = set()
    original = SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.add(self.query.model)
        return original(self, *args, **kwargs)

    with mock.patch.object(SQLCompiler, "as_sql", as_sql):
        run()
    return seen


def _problem_queries(rows: list[Incident]) -> int:
    return sum('FROM "itsm_problem"' in q["sql"] for q in rows)  # type: ignore[misc]


def test_no_query_for_links_no_row_has_and_one_for_those_that_have(org) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        _raise(org, f"plain {n}")
    rows: list[Incident] = []
    compiled = _compiled(lambda: rows.extend(selectors.incident_list(org.agent)))
    assert len(rows) == 3 and all(r.problem is None and r.duplicate_of is None for r in rows)
    # not even built: prefetch_related("problem") compiles a query that matches nothing
    assert Incident in compiled and not compiled & {Problem, Change}

    problem = problem_create(actor=org.problem_manager, title="Disk", service=org.service)
    linked = _raise(org, "linked")
    problem_link_incidents(problem=problem, actor=org.agent, incidents=[linked])
    with CaptureQueriesContext(connection) as some:
        rows = list(selectors.incident_list(org.agent))
        by_key = {r.key: r for r in rows}
        assert by_key[linked.key].problem == problem  # read from the one query, no more
        assert all(r.problem is None for r in rows if r.key != linked.key)
    assert _problem_queries(some.captured_queries) == 1
    # a values() list of the same queryset is left alone
    assert list(selectors.incident_list(org.agent).filter(pk=linked.pk).values_list("problem")) == [
        (problem.pk,)
    ]


def test_sparse_fetch_of_nothing_asks_nothing(db) -> None:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        sparse_fetch([], ["problem"])
    assert ctx.captured_queries == []


def test_a_queue_with_nothing_routed_to_it_asks_nothing_about_routes() -> None:
    from django.db.models import Q

    from itsm.counts import _matches_none

    nothing = Q(pk__in=[])
    assert _matches_none(nothing) and _matches_none(nothing | Q(pk__in=()))
    assert _matches_none(nothing & ~Q(team_id=1))  # AND with nothing: nothing
    assert not _matches_none(Q(pk__in=[3]) & ~Q(team_id=1))
    assert not _matches_none(nothing | Q(team_id=1))
    assert not _matches_none(~nothing) and not _matches_none(Q())
    assert not _matches_none(Q(pk__in=Incident.objects.none()))  # a subquery: not read


def test_queue_sizes_count_what_hypercare_routes_in(org, project, release) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client
    from django.utils import timezone

    from itsm.counts import incident_counts
    from projects.models import Release

    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    routed = _raise(org, "Tax wrong")  # raised in hypercare: the desk's, routed to dev
    queue = f"team-{org.dev.pk}"
    sizes = incident_counts(org.developer, queue, selectors.incident_queue(org.developer, queue))
    assert (sizes.total, sizes.exact) == (1, True)
    client = Client()
    client.force_login(org.developer)
    html = client.get("/desk/", {"queue": queue}).content.decode()
    assert routed.key in html
