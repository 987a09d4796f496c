"""Watchers in the API: ``GET/POST /api/v1/<plural>/{id}/watchers/`` and
``DELETE .../watchers/{user_id}/``, the same on every record viewset (a mixin of
``itsm.api.tickets.TicketViewSet``); writes go through ``core.watchers``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import watchers
from core.api.serializers import UserRefSerializer
from core.exceptions import NotFound
from core.ids import parse_id
from core.models import Watch
from core.visibility import parts_for


class WatchSerializer(serializers.ModelSerializer):
    user = UserRefSerializer(read_only=True)
    added_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Watch
        fields = ["user", "added_by", "created_at"]
        read_only_fields = fields


class WatchCreateSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="Who is to watch (staff who work the record may add a colleague who may "
        "see it). Default: the caller.",
    )


class WatchersMixin:
    """The ``/watchers/`` actions; the viewset's ``get_object`` finds the record."""

    @extend_schema(methods=["get"], responses=WatchSerializer(many=True))
    @extend_schema(
        methods=["post"],
        request=WatchCreateSerializer,
        responses={201: WatchSerializer},
        description="Watch the record (no body) or, for staff who work it, add a colleague "
        "(``user``). 400 when that person may not see the record or is unknown; 403 when "
        "the caller may not add others.",
    )
    @action(detail=True, methods=["get", "post"], url_path="watchers", pagination_class=None)
    def watchers(self, request: Request, pk: str | None = None) -> Response:
        """Who watches the record. Staff see every watcher; anyone else sees only whether
        they watch it themselves."""
        record = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            named = request.data.get("user") if hasattr(request.data, "get") else None
            if named not in (None, "") and str(named) != str(request.user.pk):
                # before the id is looked up: no probing for which users exist
                watchers.ensure_may_manage_watchers(request.user, record, watchers.ADD_OTHERS)
            body = WatchCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            user = body.validated_data.get("user") or request.user
            watch = watchers.watch_add(record=record, user=user, actor=request.user)
            return Response(WatchSerializer(watch).data, status=status.HTTP_201_CREATED)
        rows = watchers.watchers_of(record).select_related("added_by")
        if not parts_for(request.user, record).watchers:
            rows = rows.filter(user=request.user)
        return Response(WatchSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("user_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"watchers/(?P<user_id>[0-9]+)")
    def watcher_remove(self, request: Request, pk: str | None = None, user_id: str = "") -> Any:
        """Stop a user watching: themselves, or anyone for staff who work the record."""
        record = self.get_object()  # type: ignore[attr-defined]
        if str(user_id) != str(request.user.pk):
            watchers.ensure_may_manage_watchers(request.user, record, watchers.REMOVE_OTHERS)
        user = get_user_model().objects.filter(pk=parse_id(user_id)).first()
        if user is None:
            raise NotFound(f"No user {user_id}.")
        watchers.watch_remove(record=record, user=user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
