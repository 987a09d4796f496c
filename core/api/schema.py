"""The OpenAPI schema says what ``core.api.contract`` and the throttles do, on every
operation, from one place: the request headers (``If-Match``, ``If-None-Match``,
``Idempotency-Key``), the response headers (``ETag``, ``Idempotent-Replayed``) and the
answers they add (304, 409, 412, 422, 429)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ContractErrorSerializer(serializers.Serializer):
    """An error: what went wrong, and a code a program can test."""

    detail = serializers.CharField()
    code = serializers.CharField()


ERRORS = {
    "409": "The Idempotency-Key's first request is still in progress "
    "(`idempotency_key_in_progress`), or the action conflicts with the record's state.",
    "412": "If-Match named a version the record no longer has (`precondition_failed`): "
    "someone changed it; the message says who, when and what.",
    "422": "The Idempotency-Key was used for another request (`idempotency_key_reused`).",
    "429": "Too many requests (`throttled`); `Retry-After` says how many seconds to wait.",
}


class ContractAutoSchema(AutoSchema):
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

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:  # type: ignore[override]
        responses = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        codes = ["429"]
        if self.method == "GET" and self._detail():
            responses.setdefault("304", {"description": "Not modified (If-None-Match)."})
        if self.method in ("PUT", "PATCH", "DELETE", "POST") and self._detail():
            codes.append("412")
        if self.method == "POST":
            codes += ["409", "422"]
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ContractErrorSerializer, description=ERRORS[code]),
                    code,
                    direction=direction,
                )
        return responses
