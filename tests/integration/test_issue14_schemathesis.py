"""Issue 14: the OpenAPI schema matches every response, for every role.

schemathesis generates requests for every operation of the live schema (``/api/v1/schema/``,
served by Tandem itself) and checks each answer: no 5xx, the status code and the content
type are documented for the operation, and the body matches the documented schema. It runs
once per role (a token obtained through ``/api/v1/auth/token/``) and once without a token,
against a small demo organisation written to the throwaway test database: DELETEs and
transitions really write.

Budget (docs/decisions.md, "Issue 14: schemathesis in CI"): a few examples per operation and
role, derandomised so CI is repeatable, no shrinking; the whole module stays within minutes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.demo import DEMO_PASSWORD, DEMO_USERS
from core.roles import Role

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Examples per operation, by caller (docs/decisions.md, "Issue 14: schemathesis in CI"):
#   positive  data that fits the schema, ids drawn at random (mostly 404s);
#   negative  data that breaks it (each must be a documented 4xx);
#   real      data that fits, on records that exist (ids read from the lists): the answers
#             whose bodies differ by role.
# The administrator, who may do most, gets every kind; the other roles the records that
# exist (and generated data where an operation names no record); no token, generated data.
# SCHEMATHESIS_SCALE multiplies them all for a deeper run by hand.
SCALE = int(os.environ.get("SCHEMATHESIS_SCALE", "1"))
PLAN: dict[str, dict[str, int]] = {
    "administrator": {"positive": 1, "negative": 1, "real": 2},
    "anonymous": {"positive": 1, "negative": 0, "real": 0},
}
ROLE_PLAN = {"positive": 1, "negative": 0, "real": 1}  # positive only where no real case

# ---------------------------------------------------------------------------------------

# A demo small enough to write in seconds: the shipped demo's shape with a dozen incidents.
SMALL_DEMO_INCIDENTS = 12


def _seed_small_demo() -> None:
    import itsm.demo

    full = itsm.demo.DEMO_INCIDENTS
    itsm.demo.DEMO_INCIDENTS = SMALL_DEMO_INCIDENTS
    try:
        for app in ("core", "sla", "itsm", "projects", "knowledge"):
            import_module(f"{app}.demo").seed(io.StringIO())
    finally:
        itsm.demo.DEMO_INCIDENTS = full


class _Pools:
    """Values of path parameters that name records that exist, read from the API's lists."""

    def __init__(self) -> None:
        self.by_segment: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))

    def harvest(self, client: Any, headers: dict[str, str], operations: list[Any]) -> None:
        for op in operations:
            if op.method.upper() != "GET" or "{" in op.path:
                continue
            segment = op.path.removeprefix("/api/v1/").split("/")[0]
            response = client.get(op.path, headers=headers, query_string={"page_size": 50})
            if response.status_code != 200 or "json" not in response.content_type:
                continue
            body = response.get_json()
            rows = body.get("results") if isinstance(body, dict) else body
            if not isinstance(rows, list):
                continue
            for row in rows:
                if not isinstance(row, dict):
                    continue
                for key in ("id", "ref", "code", "key"):
                    if key in row and row[key] not in (None, ""):
                        self.by_segment[segment][key].append(row[key])
        # transitions offered on the records: their names feed {name}
        for segment, values in list(self.by_segment.items()):
            for record_id in values.get("id", [])[:3]:
                response = client.get(
                    f"/api/v1/{segment}/{record_id}/transitions/", headers=headers
                )
                if response.status_code == 200 and "json" in response.content_type:
                    for row in response.get_json() or []:
                        if isinstance(row, dict) and row.get("name"):
                            values["name"].append(row["name"])

    def fixed_parameters(self, op: Any) -> dict[str, list[Any]]:
        segment = op.path.removeprefix("/api/v1/").split("/")[0]
        pool = self.by_segment.get(segment, {})
        names = [p.name for p in op.path_parameters]
        fixed: dict[str, list[Any]] = {}
        for name in names:
            source = {"id": "id", "ref": "ref", "code": "code", "name": "name"}.get(name)
            if source is None:
                continue
            values = pool.get(source) or (pool.get("id") if name == "ref" else None)
            if values:
                fixed[name] = sorted(set(values), key=str)
        return fixed


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    # DELETEs last: what they remove is what the other operations read.
    return sorted(operations, key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))


def _strategies(op: Any, pools: _Pools, caller: str) -> Iterator[tuple[str, Any, int]]:
    plan = PLAN.get(caller, ROLE_PLAN)
    fixed = pools.fixed_parameters(op)
    positive = plan["positive"]
    if caller not in PLAN and fixed:
        positive = 0
    if positive:
        strategy = op.as_strategy(generation_mode=GenerationMode.POSITIVE)
        yield "positive", strategy, positive * SCALE
    if plan["negative"]:
        strategy = op.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        yield "negative", strategy, plan["negative"] * SCALE
    if fixed and plan["real"]:
        keys = sorted(fixed)
        choice = st.tuples(*(st.sampled_from(fixed[k]) for k in keys))
        real = choice.flatmap(
            lambda values: op.as_strategy(
                generation_mode=GenerationMode.POSITIVE,
                path_parameters=dict(zip(keys, values, strict=True)),
            )
        )
        yield "real", real, plan["real"] * SCALE


def _run_operation(
    op: Any, strategy: Any, examples: int, headers: dict[str, str], failures: list[str]
) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                line = (
                    f"{op.method.upper()} {op.path} -> {response.status_code}: "
                    f"{failure.title}: {str(failure.message)[:300]}"
                )
                if line not in seen:
                    seen.add(line)
                    failures.append(f"{line}\n      {case.as_curl_command(headers=headers)}")

    try:
        check()
    except Exception as exc:  # a strategy that cannot generate (e.g. nothing to negate)
        if "Unsatisfiable" not in type(exc).__name__ and "unsatisf" not in str(exc).lower():
            failures.append(f"{op.method.upper()} {op.path}: {type(exc).__name__}: {exc}")


ALL_CALLERS = [None, *Role]  # None: no token


def _caller_id(role: Role | None) -> str:
    return "anonymous" if role is None else role.name.lower()


@pytest.fixture
def demo(transactional_db, sla_policies):  # type: ignore[no-untyped-def]
    """The small demo, written for each caller: every role meets the same records."""
    _seed_small_demo()
    # Thousands of 4xx answers are the point here, not news: keep the log quiet.
    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    yield
    quiet.setLevel(level)


@pytest.fixture(scope="module")
def api_schema(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.mark.parametrize("role", ALL_CALLERS, ids=_caller_id)
def test_every_operation_answers_as_documented(role, demo, api_schema):  # type: ignore[no-untyped-def]
    from schemathesis.python import wsgi

    client = wsgi.get_client(api_schema.app)
    headers: dict[str, str] = {}
    if True:
        if role is not None:
            username = next(name for name, _full, r in DEMO_USERS if r == role)
            response = client.post(
                "/api/v1/auth/token/",
                data=json.dumps({"username": username, "password": DEMO_PASSWORD}),
                content_type="application/json",
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            headers = {"Authorization": f"Token {response.get_json()['token']}"}

        operations = _operations(api_schema)
        pools = _Pools()
        pools.harvest(client, headers, operations)
        failures: list[str] = []
        started = time.monotonic()
        for op in operations:
            for _kind, strategy, examples in _strategies(op, pools, _caller_id(role)):
                _run_operation(op, strategy, examples, headers, failures)
        elapsed = time.monotonic() - started

    print(f"{_caller_id(role)}: {len(operations)} operations in {elapsed:.0f}s")
    assert not failures, f"{len(failures)} failures for {_caller_id(role)}:\n" + "\n".join(failures)
