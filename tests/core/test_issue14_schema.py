"""Issue 14: the schema says what the API answers (the fast half of
tests/integration/test_issue14_schemathesis.py, which holds every answer to it)."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api.schema import ERROR_RESPONSES
from tests.conftest import api_as


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _ok_schema(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    responses = schema["paths"][path][method]["responses"]
    answer = responses.get("200") or responses["201"]
    return answer["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/incidents/{id}/transitions/",
        "/api/v1/incidents/{id}/sla/",
        "/api/v1/incidents/{id}/related/",
        "/api/v1/changes/{id}/approvals/",
        "/api/v1/requests/{id}/approvals/",
        "/api/v1/articles/{id}/versions/",
        "/api/v1/defects/{id}/item-links/",
        "/api/v1/services/{id}/roles/",
        "/api/v1/problems/candidates/",
        "/api/v1/incidents/{ref}/suspects/",
    ],
)
def test_list_actions_are_documented_as_the_plain_lists_they_answer(schema, path):
    assert _ok_schema(schema, path)["type"] == "array"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/incidents/",
        "/api/v1/incidents/{id}/comments/",
        "/api/v1/incidents/{id}/history/",
        "/api/v1/incidents/{id}/attachments/",
        "/api/v1/articles/{id}/history/",
        "/api/v1/problems/{id}/incidents/",
        "/api/v1/releases/{id}/history/",
        "/api/v1/projects/{code}/history/",
    ],
)
def test_paginated_answers_are_documented_as_pages(schema, path):
    assert _ok_schema(schema, path)["$ref"].startswith("#/components/schemas/Paginated")


def test_custom_bodies_are_documented(schema):
    capacity = _ok_schema(schema, "/api/v1/teams/{team_id}/capacity/")
    assert capacity["$ref"] == "#/components/schemas/TeamCapacity"
    solved = _ok_schema(schema, "/api/v1/articles/{id}/solved/", "post")
    assert solved["$ref"] == "#/components/schemas/ArticleUse"


def test_every_operation_documents_the_common_errors_in_one_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) >= {"code", "message", "fields", "detail"}
    assert set(error["required"]) == {"code", "message", "fields", "detail"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code in ("400", "401", "403", "404", "429", "503"):
                answer = operation["responses"][code]
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)
            if method in ("post", "put", "patch", "delete"):
                assert "409" in operation["responses"], (method, path)
    assert {"400", "401", "403", "404", "409"} <= set(ERROR_RESPONSES)


def test_enums_include_the_blank_value_the_api_answers(schema, new_incident, org):
    incident = schema["components"]["schemas"]["Incident"]["properties"]
    for field in ("hold_reason", "resolution_code"):
        refs = {one["$ref"] for one in incident[field]["oneOf"]}
        assert "#/components/schemas/BlankEnum" in refs, field
    answered = api_as(org.agent).get(f"/api/v1/incidents/{new_incident.pk}/").json()
    assert answered["hold_reason"] == ""


def test_times_are_documented_as_answered(schema):
    period = schema["components"]["schemas"]["WorkingPeriod"]["properties"]["start"]
    assert "format" not in period  # JSON Schema's "time" demands an offset never sent
    assert period["pattern"]


def test_a_freeze_window_centuries_away_is_refused(org):
    answer = api_as(org.admin).post(
        "/api/v1/freeze-windows/",
        {"name": "Typo", "start": "1753-07-22T11:20:32Z", "end": "1753-07-23T11:20:32Z"},
        format="json",
    )
    assert answer.status_code == 400
    assert "start" in str(answer.json())


def test_fields_some_readers_do_not_get_are_optional_or_nullable(schema):
    article = schema["components"]["schemas"]["Article"]
    assert "created_at" not in article["required"]  # a requester's answer leaves it out
    assert "title" in article["required"]
    tier = schema["components"]["schemas"]["Incident"]["properties"]["tier"]
    assert tier["nullable"] is True  # null for requesters
