"""Issue 11 review fix: an id or number in a query string or a form is read by one rule
(``core.ids.parse_id``), bounded to the database's bigint — a number past it matched
nothing instead of answering 500 (``OverflowError`` from the driver)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.ids import MAX_ID, parse_id, parse_key_number
from projects import services as ps
from tests.conftest import api_as

HUGE = "9" * 23


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 12 ", 12),
        (12, 12),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (MAX_ID + 1, None),
        (HUGE, None),
        ("0", None),
        ("-1", None),
        ("²", None),
        ("١٢", None),  # Arabic-Indic digits: isdecimal() says yes, an id says no
        ("", None),
        (None, None),
        (True, None),
        ("1e3", None),
    ],
)
def test_parse_id(raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_id(raw) == expected


def test_parse_key_number() -> None:
    assert parse_key_number("inc-7", "INC") == 7
    assert parse_key_number("7", "INC") == 7
    assert parse_key_number(f"INC-{HUGE}", "INC") is None


def test_board_filters_take_no_number_past_a_bigint(org, project) -> None:  # type: ignore[no-untyped-def]
    ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    c = Client(raise_request_exception=False)
    c.force_login(org.developer)
    for query in ("component", "assignee", "iteration", "release"):
        res = c.get(f"/projects/{project.code}/?{query}={HUGE}")
        assert res.status_code == 200, query


def test_api_filters_and_lookups_take_no_number_past_a_bigint(org, project) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.admin)
    api.raise_request_exception = False
    for url in (
        f"/api/v1/incidents/?q=INC-{HUGE}",
        f"/api/v1/problems/?q=PRB-{HUGE}",
        f"/api/v1/defects/?incident=INC-{HUGE}",
        f"/api/v1/emergency-decisions/?change=CHG-{HUGE}",
        f"/api/v1/problems/candidates/?minimum={HUGE}",
    ):
        assert api.get(url).status_code == 200, url
    # a filter on records by id: a 400 naming the value, as for an unknown id
    assert api.get(f"/api/v1/changes/?services={HUGE}").status_code == 400
    for url in (f"/api/v1/incidents/{HUGE}/", f"/api/v1/iterations/{HUGE}/"):
        assert api.get(url).status_code == 404, url


def test_pages_take_no_number_past_a_bigint(org, project) -> None:  # type: ignore[no-untyped-def]
    c = Client(raise_request_exception=False)
    c.force_login(org.agent)
    assert c.get(f"/incidents/?queue=team-{HUGE}").status_code == 404
    assert c.get(f"/incidents/{HUGE}/").status_code == 404
