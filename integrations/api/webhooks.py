"""``/api/v1/webhooks/``: webhook subscriptions (administrators), their deliveries, redelivery,
a test ping, secret rotation, and the payload's JSON schema (``schema/``, any signed-in
user: it is documentation). Every write calls ``integrations.services.webhooks``, as the
pages do."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.contract import ApiContractMixin
from core.api.schema import paginated
from core.api.serializers import UserRefSerializer
from core.exceptions import NotFound, ValidationFailed
from core.ids import parse_id
from core.models import Service
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.permissions import can_manage_webhooks
from integrations.services import webhooks as services
from integrations.webhooks import catalogue
from integrations.webhooks.schema import payload_schema
from projects.models import Project


class CanManageWebhooks(BasePermission):
    message = "Only administrators manage webhook subscriptions."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "action", None) == "payload_schema":
            return True
        return can_manage_webhooks(request.user)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    owner = UserRefSerializer(read_only=True)
    services = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    projects = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    event_types = serializers.ListField(child=serializers.CharField())
    priorities = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "name",
            "url",
            "owner",
            "event_types",
            "services",
            "projects",
            "priorities",
            "is_active",
            "allow_private",
            "max_attempts",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "secret_rotated_at",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookSubscriptionSecretSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (whsec_…). Shown this once; verify deliveries with it.",
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSubscriptionInput(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX)
    url = serializers.CharField(max_length=services.URL_MAX, help_text="http(s) only.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(catalogue.EVENT_TYPES)),
        allow_empty=False,
        help_text="Event types of the catalogue (GET /api/v1/webhooks/schema/).",
    )
    services = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Service.objects.all(), required=False
    )
    projects = serializers.SlugRelatedField(
        many=True, slug_field="code", queryset=Project.objects.all(), required=False
    )
    priorities = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=5), required=False
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="As whom records are rendered (default: you).",
    )
    allow_private = serializers.BooleanField(required=False)
    max_attempts = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=50
    )
    is_active = serializers.BooleanField(required=False)

    def as_input(self) -> services.SubscriptionInput:
        return services.SubscriptionInput(**self.validated_data)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "attempted_at",
            "url",
            "request_headers",
            "response_status",
            "response_body",
            "duration_ms",
            "error",
            "ok",
            "retry_at",
            "dead",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="message.status", help_text="pending, sent or failed")
    attempts = serializers.IntegerField(source="message.attempts")
    last_error = serializers.CharField(source="message.last_error")
    next_try_at = serializers.SerializerMethodField()
    sent_at = serializers.DateTimeField(source="message.sent_at", allow_null=True)
    request_body = serializers.SerializerMethodField()
    tries = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "record_label",
            "status",
            "attempts",
            "last_error",
            "next_try_at",
            "created_at",
            "sent_at",
            "request_body",
            "tries",
        ]
        read_only_fields = fields

    def get_next_try_at(self, d: WebhookDelivery) -> str | None:
        m = d.message
        return m.available_at.isoformat() if m.status == "pending" else None

    def get_request_body(self, d: WebhookDelivery) -> str:
        return (d.message.payload or {}).get("body", "")


class RedeliverInput(serializers.Serializer):
    deliveries = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="The dead deliveries to send again.",
    )
    all_dead = serializers.BooleanField(
        required=False, help_text="Send every dead delivery of the subscription again."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("deliveries") and not attrs.get("all_dead"):
            raise ValidationFailed(
                "Name the deliveries to send again, or ask for all_dead.", field="deliveries"
            )
        return attrs


class RedeliverResultSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()


class WebhookViewSet(
    ApiContractMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook subscriptions (Administrators). ``schema/`` is the payload's JSON schema and
    the event catalogue, for anyone signed in."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [CanManageWebhooks]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    shown_once_fields = ("secret",)  # never kept with an Idempotency-Key's answer
    queryset = WebhookSubscription.objects.none()  # for the schema

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            WebhookSubscription.objects.select_related("owner")
            .prefetch_related("services", "projects")
            .order_by("name", "id")
        )

    def get_object(self) -> WebhookSubscription:
        found = self.get_queryset().filter(pk=parse_id(self.kwargs.get("pk")) or 0).first()
        if found is None:
            raise NotFound("No such webhook subscription.")
        return found

    def _answer(self, sub: WebhookSubscription, code: int = 200) -> Response:
        fresh = self.get_queryset().get(pk=sub.pk)
        return Response(WebhookSubscriptionSerializer(fresh).data, status=code)

    @extend_schema(
        request=WebhookSubscriptionInput, responses={201: WebhookSubscriptionSecretSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a subscription; the answer carries its signing secret, shown this once."""
        body = WebhookSubscriptionInput(data=request.data)
        body.is_valid(raise_exception=True)
        sub, secret = services.subscription_create(actor=request.user, data=body.as_input())
        fresh = self.get_queryset().get(pk=sub.pk)
        fresh.secret = secret  # type: ignore[attr-defined]
        return Response(
            WebhookSubscriptionSecretSerializer(fresh).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=WebhookSubscriptionInput, responses=WebhookSubscriptionSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change it; ``is_active`` true turns it on again (its failure count reset)."""
        body = WebhookSubscriptionInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        sub = services.subscription_update(
            subscription=self.get_object(), actor=request.user, data=body.as_input()
        )
        return self._answer(sub)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.subscription_delete(subscription=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @paginated
    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """Its deliveries, newest first, each with its tries (request, response, time)."""
        sub = self.get_object()
        qs = (
            WebhookDelivery.objects.filter(subscription=sub)
            .select_related("message")
            .prefetch_related(Prefetch("tries", queryset=WebhookAttempt.objects.order_by("id")))
            .order_by("-id")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=RedeliverInput, responses=RedeliverResultSerializer)
    @action(detail=True, methods=["post"], url_path="redeliver")
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        """Send dead deliveries again (those named, or ``all_dead``); 409 when it is off."""
        body = RedeliverInput(data=request.data)
        body.is_valid(raise_exception=True)
        ids = None if body.validated_data.get("all_dead") else body.validated_data["deliveries"]
        count = services.webhook_redeliver(
            subscription=self.get_object(), actor=request.user, delivery_ids=ids
        )
        return Response({"redelivered": count})

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], url_path="ping")
    def ping(self, request: Request, pk: str | None = None) -> Response:
        """Queue a signed ``webhook.ping``; its outcome shows in ``deliveries/``."""
        delivery = services.webhook_ping(subscription=self.get_object(), actor=request.user)
        delivery = WebhookDelivery.objects.select_related("message").get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=WebhookSubscriptionSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new signing secret, shown this once; the old one also signs for the overlap
        (WEBHOOK_SECRET_OVERLAP_HOURS), so deliveries carry both signatures meanwhile."""
        sub, secret = services.subscription_rotate_secret(
            subscription=self.get_object(), actor=request.user
        )
        fresh = self.get_queryset().get(pk=sub.pk)
        fresh.secret = secret  # type: ignore[attr-defined]
        return Response(WebhookSubscriptionSecretSerializer(fresh).data)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The JSON Schema (draft 2020-12) of every webhook payload of version "
        f"{catalogue.PAYLOAD_VERSION}, with the event catalogue (`x-event-types`). Deliveries "
        "are signed per Standard Webhooks: headers `webhook-id`, `webhook-timestamp`, "
        "`webhook-signature` (one or, while a secret rotation overlaps, two space-separated "
        "`v1,<base64>` signatures).",
    )
    @action(detail=False, methods=["get"], url_path="schema")
    def payload_schema(self, request: Request) -> Response:
        return Response(payload_schema())
