"""The OpenAPI schema says what the API really answers (issue 14).

``TandemAutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds to every operation the
error answers any operation can give, in one shape (``Error``), and reads custom list
actions as the plain lists they return: only ``list`` and the actions marked ``@paginated``
answer with a page. A serializer whose answer leaves fields out for some readers names them
in ``Meta.schema_optional``. ``tests/integration/test_issue14_schemathesis.py`` holds the schema to
every answer, for every role.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

F = TypeVar("F", bound=Callable[..., Any])


def paginated(func: F) -> F:
    """Mark a custom ``@action`` that answers through ``get_paginated_response``: its
    documented answer is a page (``count``, ``next``, ``previous``, ``results``)."""
    func.paginated_response = True  # type: ignore[attr-defined]
    return func


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API (``core.exceptions.error_body``): a code, a message
    and the fields at fault, with ``detail`` repeating the message for DRF-style clients;
    some errors add a key (``request_id`` on a 500, ``used_by`` on a 409 in use)."""

    code = serializers.CharField(help_text="What went wrong, for programs.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.JSONField(help_text="The fields at fault, each with its messages.")
    detail = serializers.JSONField(help_text="The message again, as DRF clients read it.")
    request_id = serializers.CharField(
        required=False, help_text="On a 500: the id under which the error was logged."
    )
    used_by = serializers.JSONField(
        required=False, help_text="On a 409 for a record in use: what uses it, by kind."
    )

    class Meta:
        ref_name = "Error"


# code -> (methods it applies to, or None for all; description)
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
ERROR_RESPONSES: dict[str, tuple[frozenset[str] | None, str]] = {
    "400": (None, "Bad input: a parameter or field is missing or invalid."),
    "401": (None, "No credentials, or credentials that are not valid."),
    "403": (None, "This user may not do this."),
    "404": (None, "No such record, or one this user may not see."),
    "409": (
        _UNSAFE,
        "The record's state does not allow this, or it is in use, or the Idempotency-Key's "
        "first request is still in progress (`idempotency_key_in_progress`).",
    ),
    "412": (
        _UNSAFE,
        "If-Match named a version the record no longer has (`precondition_failed`): "
        "someone changed it; the message says who, when and what.",
    ),
    "415": (_WITH_BODY, "The body's media type is not accepted."),
    "422": (frozenset({"POST"}), "An Idempotency-Key reused with another body."),
    "429": (None, "Too many requests; retry after Retry-After seconds."),
    "503": (None, "A service the API needs is unavailable; retry after Retry-After seconds."),
}

# TimeField answers "09:00:00": JSON Schema's "time" format demands an offset it never has.
TIME_PATTERN = r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"


class TandemAutoSchema(AutoSchema):
    """Also documents, on every operation, what ``core.api.contract`` and the throttles do:
    the request headers (``If-Match``, ``If-None-Match``, ``Idempotency-Key``), the response
    headers (``ETag``, ``Idempotent-Replayed``, ``Retry-After``) and 304 on a record's GET."""

    def _detail(self) -> bool:
        return "{" in self.path  # a record's own path (or one of its actions')

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        method = self.method
        if method in ("PUT", "PATCH", "DELETE", "POST") and self._detail():
            params.append(
                OpenApiParameter(
                    "If-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="The record's ETag as read: the action runs only if the "
                    "record has not changed since (else 412).",
                )
            )
        if method == "GET" and self._detail():
            params.append(
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="An ETag read before: 304 without a body when the record "
                    "still has it.",
                )
            )
        if method == "POST":
            params += [
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    description="A unique key (a UUID) for this request: a retry with the "
                    "same key and body answers the first answer and changes nothing; the "
                    "same key with another body is 422. Kept 24 hours.",
                ),
                OpenApiParameter(
                    "Idempotent-Replayed",
                    str,
                    OpenApiParameter.HEADER,
                    response=["200", "201", "204"],
                    enum=["true"],
                    description="Present on the answer replayed for a retried Idempotency-Key.",
                ),
            ]
        params.append(
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                response=["429"],
                description="Seconds to wait before the next request.",
            )
        )
        params.append(
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                response=["200", "201"],
                description="The record's version, when the body is one record (for "
                "If-Match and If-None-Match).",
            )
        )
        return params

    def _get_paginator(self):  # type: ignore[no-untyped-def]
        action = getattr(self.view, "action", None)
        if action not in (None, "list"):
            handler = getattr(self.view, action, None)
            if not getattr(handler, "paginated_response", False):
                return None
        return super()._get_paginator()

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        if self.method == "GET" and self._detail():
            responses.setdefault("304", {"description": "Not modified (If-None-Match)."})
        for code, (methods, description) in ERROR_RESPONSES.items():
            if code in responses or (methods is not None and self.method not in methods):
                continue
            answer = self._get_response_for_code(
                ErrorSerializer, code, media_types=["application/json"], direction=direction
            )
            answer["description"] = description
            responses[code] = answer
        return responses

    def _map_basic_serializer(self, serializer, direction):  # type: ignore[no-untyped-def]
        schema = super()._map_basic_serializer(serializer, direction)
        optional = getattr(getattr(serializer, "Meta", None), "schema_optional", ())
        if optional and "required" in schema:
            schema["required"] = [f for f in schema["required"] if f not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):  # type: ignore[no-untyped-def]
        if isinstance(field, serializers.TimeField):
            schema = build_basic_type(OpenApiTypes.STR)
            schema["pattern"] = TIME_PATTERN
            schema["example"] = "09:00:00"
            return schema
        if (
            isinstance(field, serializers.ChoiceField)
            and not field.allow_blank
            and _model_field_is_blank(field)
        ):
            # DRF drops allow_blank from read-only model fields, yet the blank value is
            # answered (an incident not on hold has hold_reason ""): the enum says so.
            field = copy.copy(field)
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)


def _model_field_is_blank(field: serializers.Field) -> bool:
    """Whether a serializer field reads a model CharField that may be blank."""
    meta = getattr(field.parent, "Meta", None)
    model = getattr(meta, "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        model_field = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return False
    return bool(getattr(model_field, "blank", False)) and isinstance(
        model_field, (models.CharField, models.TextField)
    )
