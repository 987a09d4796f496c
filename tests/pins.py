"""Issue 13's query pins, shared by every app's list tests: a list or page runs the same
number of queries for one row as for twelve, and the twelve are really on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import api_as

ROWS = 12


def client_for(viewer: Any, url: str) -> Any:
    """An API client with the viewer's token for ``/api/``, else a signed-in browser."""
    if url.startswith("/api/"):
        return api_as(viewer)
    client = Client()
    client.force_login(viewer)
    return client


def queries(client: Any, url: str) -> tuple[int, str]:
    """The statements a GET of ``url`` runs, and its body (an export streams: its rows are
    read while the body is)."""
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, (url, res.content[:500])
        body = b"".join(res.streaming_content) if res.streaming else res.content
    return len(ctx.captured_queries), body.decode()


def count(word: str) -> Callable[[str], int]:
    return lambda body: body.count(word)


def assert_pinned(
    client: Any,
    url: str,
    add: Callable[[int], None],
    shown: Callable[[str], int],
    rows: int = ROWS,
) -> tuple[int, int]:
    """Add row 0, measure ``url`` (after one warm-up request: the process's caches, such as
    content types and ``core.refcache``, fill once), add rows 1…11, measure again: the
    same count, with ``rows`` of them shown."""
    add(0)
    queries(client, url)
    one, _ = queries(client, url)
    for i in range(1, ROWS):
        add(i)
    twelve, body = queries(client, url)
    assert shown(body) >= rows, (url, shown(body))
    assert twelve == one, (url, one, twelve)
    return one, twelve
