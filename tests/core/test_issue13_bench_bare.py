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


def test_floors_answer_what_load_py_expects(  # type: ignore[no-untyped-def]
    settings, urls_reloaded, org, new_incident
) -> None:
    """bench/load.py divides each endpoint by the floor of its kind: each floor must be the
    request it says (signed in, one row read; one comment written), or the ratio lies."""
    from django.contrib.contenttypes.models import ContentType

    from core.models import Comment
    from tests.conftest import api_as

    settings.TANDEM_BENCH_BARE = True
    urls_reloaded()
    key = new_incident.key
    assert Client().get(f"/bench/page-floor/{key}/").status_code == 302  # signs in first
    page = Client()
    page.force_login(org.agent)
    res = page.get(f"/bench/page-floor/{key}/")
    assert res.status_code == 200 and key in res.content.decode()
    assert page.get("/bench/page-floor/INC-0/").status_code == 404
    assert Client().get(f"/bench/api-floor/{key}/").status_code in (401, 403)
    api = api_as(org.agent)
    res = api.get(f"/bench/api-floor/{key}/")
    assert res.status_code == 200 and res.json()["key"] == key
    res = api.post(f"/bench/create-floor/{key}/", {"body": "floor"}, format="json")
    assert res.status_code == 201
    comment = Comment.objects.get(pk=res.json()["id"])
    assert comment.object_id == new_incident.pk and comment.body == "floor"
    assert comment.content_type == ContentType.objects.get_for_model(new_incident)
