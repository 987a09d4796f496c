"""Issue 13: the other lists (problems, changes, requests) cost a fixed number of queries,
whatever the number of rows on the page: one more record adds no query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from itsm.services.changes import change_create
from itsm.services.problems import problem_create
from itsm.services.requests import request_submit
from tests.conftest import api_as
from tests.itsm.test_requests import mouse  # noqa: F401  (fixture)


def _queries(client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, url
    return len(ctx.captured_queries), res.content.decode()


def _add(org, item, i: int) -> None:  # type: ignore[no-untyped-def]
    problem_create(actor=org.problem_manager, title=f"Problem {i}", service=org.service)
    change_create(actor=org.change_manager, title=f"Change {i}", services=[org.service])
    request_submit(actor=org.requester, item=item, answers={})


@pytest.mark.parametrize(
    "url",
    [
        "/problems/",
        "/changes/",
        "/requests/",
        "/api/v1/problems/",
        "/api/v1/changes/",
        "/api/v1/requests/",
    ],
)
def test_the_other_lists_cost_the_same_for_one_or_twelve_rows(org, mouse, url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    viewer = org.incident_manager if "problem" in url else org.agent
    if "change" in url:
        viewer = org.change_manager
    client = api_as(viewer) if url.startswith("/api/") else Client()
    if not url.startswith("/api/"):
        client.force_login(viewer)
    _add(org, mouse, 0)
    _queries(client, url)  # warm-up
    one, _ = _queries(client, url)
    for i in range(1, 12):
        _add(org, mouse, i)
    twelve, body = _queries(client, url)
    assert twelve == one
    # the twelve are on the page (the count above is of a page that shows them)
    shown = (
        body.count("REQ-") if "requests" in url else body.count("Problem ") + body.count("Change ")
    )
    assert shown >= 12, url
