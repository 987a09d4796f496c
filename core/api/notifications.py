"""``/api/v1/notifications/`` (the caller's own only; mark read, mark all read) and
``/api/v1/notification-preferences/`` (which families also come by e-mail). Both call
``core.notifications``, as the pages do."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import notifications
from core.api.contract import ApiContractMixin
from core.ids import parse_id
from core.models import Notification, NotificationFamily


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "family", "subject", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class NotificationViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's notifications, newest first; ``?unread=true`` for the unread ones.
    Another person's notification is a 404."""

    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated]
    queryset = Notification.objects.none()  # for the schema; get_queryset scopes to the caller

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = notifications.notifications_for(self.request.user)
        if self.request.query_params.get("unread", "").lower() in ("true", "1", "yes"):
            qs = qs.filter(read_at__isnull=True)
        return qs

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], url_path="read")
    def read(self, request: Request, pk: str | None = None) -> Response:
        """Mark it read (again is harmless)."""
        found = notifications.notification_mark_read(
            user=request.user, notification_id=parse_id(pk)
        )
        return Response(NotificationSerializer(found).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        """Mark every unread notification read; says how many."""
        return Response({"marked": notifications.notification_mark_all_read(user=request.user)})

    @extend_schema(
        responses=inline_serializer("NotificationsUnread", {"unread": serializers.IntegerField()})
    )
    @action(detail=False, methods=["get"], url_path="unread-count", pagination_class=None)
    def unread_count(self, request: Request) -> Response:
        """The bell's number."""
        return Response({"unread": notifications.unread_count(request.user)})


class NotificationPreferenceSerializer(serializers.Serializer):
    family = serializers.ChoiceField(choices=NotificationFamily.choices)
    label = serializers.CharField(read_only=True)
    email = serializers.BooleanField(help_text="Also send this family by e-mail.")


def _as_rows(prefs: list[tuple[str, str, bool]]) -> list[dict[str, object]]:
    return [{"family": f, "label": label, "email": on} for f, label, on in prefs]


class NotificationPreferenceView(ApiContractMixin, APIView):
    """Every family with whether it also comes by e-mail (the in-app notification is
    always written). PUT/PATCH a list of ``{family, email}``; families left out keep
    their setting."""

    permission_classes = [IsAuthenticated]
    accepts_json_list = True  # the body is a list of rows (core.api.parsers)

    @extend_schema(responses=NotificationPreferenceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(_as_rows(notifications.preferences_for(request.user)))

    @extend_schema(
        request=NotificationPreferenceSerializer(many=True),
        responses=NotificationPreferenceSerializer(many=True),
    )
    def put(self, request: Request) -> Response:
        body = NotificationPreferenceSerializer(data=request.data, many=True)
        body.is_valid(raise_exception=True)
        email = {row["family"]: row["email"] for row in body.validated_data}
        return Response(_as_rows(notifications.preferences_set(user=request.user, email=email)))

    @extend_schema(
        request=NotificationPreferenceSerializer(many=True),
        responses=NotificationPreferenceSerializer(many=True),
    )
    def patch(self, request: Request) -> Response:
        return self.put(request)
