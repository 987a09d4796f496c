"""The bench's bare view (bench/load.py's ceiling) is routed only when TANDEM_BENCH_BARE is
set: a default install answers 404 there."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import clear_url_caches

import config.urls


@pytest.fixture
def urls_reloaded(settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Re-reads config/urls.py under the test's settings, and again after it."""

    def reload() -> None:
        importlib.reload(config.urls)
        clear_url_caches()

    yield lambda: reload()
    settings.TANDEM_BENCH_BARE = False
    reload()


def test_bare_view_is_absent_by_default(db, urls_reloaded) -> None:  # type: ignore[no-untyped-def]
    urls_reloaded()
    assert Client().get("/bench/bare/").status_code == 404


def test_bare_view_answers_without_the_database(  # type: ignore[no-untyped-def]
    db, settings, urls_reloaded, django_assert_num_queries
) -> None:
    settings.TANDEM_BENCH_BARE = True
    urls_reloaded()
    with django_assert_num_queries(0):
        res = Client().get("/bench/bare/")
    assert res.status_code == 200 and res.content == b"ok"
