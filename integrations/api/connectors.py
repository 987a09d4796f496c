"""``POST /api/v1/connectors/{connector_id}/webhook/``: where a connected tracker sends its
webhooks. No user signs in: the tracker proves itself with the connector's secret (Jira
Cloud's ``X-Hub-Signature: sha256=<HMAC of the body>``), checked on the raw body before
anything is read; ``services.connectors.webhook_receive`` decides and logs the rest."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin
from core.api.exceptions import error_response
from core.api.schema import ErrorSerializer

ACCEPTED = inline_serializer(
    "ConnectorWebhookAccepted",
    {
        "code": serializers.CharField(help_text="created, updated, unchanged or ignored"),
        "message": serializers.CharField(),
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class ConnectorWebhookView(ApiContractMixin, APIView):
    authentication_classes: list = []  # the signature is the credential
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="connectors_webhook_create",
        summary="Receive a webhook from a connected tracker",
        description="The tracker's own payload (Jira Cloud: `webhookEvent`, `issue`, "
        "`changelog`, `comment`, `timestamp`), signed with the connector's webhook secret "
        "(`X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`) and named by "
        "`X-Atlassian-Webhook-Identifier`. Applied to the mapped defect in one transaction.",
        request=OpenApiTypes.OBJECT,
        responses={
            200: ACCEPTED,
            400: _error("Malformed body, no delivery identifier, or a stale timestamp."),
            401: _error("The signature is missing or wrong, or no active connector is here."),
            409: _error("An identifier or a body applied (or ignored) before (a replay)."),
            422: _error("Tandem refused the change (nothing of it was applied)."),
        },
        auth=[],
    )
    def post(self, request: Request, connector_id: int) -> Response:
        from integrations.services.connectors import webhook_receive

        if request.content_type.split(";")[0].strip().lower() != "application/json":
            # trackers send JSON; a form's body was read by then and its signature could
            # not be checked on the bytes sent
            return error_response(
                "invalid", "A webhook's body is JSON (Content-Type: application/json).", 400
            )
        answer = webhook_receive(
            connector_id=connector_id, body=request.body, headers=request.headers
        )
        if answer.status >= 400:
            return error_response(answer.code, answer.message, answer.status)
        return Response({"code": answer.code, "message": answer.message}, status=answer.status)
