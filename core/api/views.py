from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.permissions import IsAdministratorOrReadOnly
from core.api.serializers import ServiceSerializer, TeamSerializer, UserSerializer
from core.models import Service, Team
from core.roles import is_staff_member


class TeamViewSet(viewsets.ModelViewSet):
    queryset = Team.objects.select_related("lead").prefetch_related(Prefetch("members"))
    serializer_class = TeamSerializer
    permission_classes = [IsAdministratorOrReadOnly]
    filterset_fields = ["tier"]
    search_fields = ["name"]
    ordering_fields = ["name", "tier"]
    ordering = ["tier", "name", "id"]


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.select_related("support_team", "development_team")
    serializer_class = ServiceSerializer
    permission_classes = [IsAdministratorOrReadOnly]
    filterset_fields = ["is_active", "support_team", "development_team"]
    search_fields = ["name", "description"]
    ordering_fields = ["name"]
    ordering = ["name", "id"]


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People, to name assignees and approvers. Staff see every active user; a requester
    only themselves. ``/users/me/`` is you."""

    serializer_class = UserSerializer
    search_fields = ["username", "first_name", "last_name", "email"]
    filterset_fields = ["groups__name"]
    ordering = ["username"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = (
            get_user_model()
            .objects.filter(is_active=True)
            .prefetch_related("groups", "tandem_teams")
            .order_by("username")
        )
        if getattr(self, "swagger_fake_view", False) or is_staff_member(self.request.user):
            return qs
        return qs.filter(pk=self.request.user.pk)

    @extend_schema(responses=UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)
