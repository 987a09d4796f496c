from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import service_roles
from core.api.contract import ApiContractMixin
from core.api.permissions import IsAdministratorOrReadOnly, IsStaffReadAdministratorWrite
from core.api.serializers import (
    PublicServiceSerializer,
    ServiceRoleInput,
    ServiceRoleSerializer,
    ServiceSerializer,
    TeamSerializer,
    UserSerializer,
)
from core.config_audit import ConfigurationAuditViewSet
from core.exceptions import ActionForbidden, NotFound
from core.models import Service, Team
from core.roles import can_view_service_roles, is_staff_member


class TeamViewSet(ApiContractMixin, ConfigurationAuditViewSet, viewsets.ModelViewSet):
    queryset = Team.objects.select_related("lead").prefetch_related(Prefetch("members"))
    serializer_class = TeamSerializer
    permission_classes = [IsStaffReadAdministratorWrite]
    filterset_fields = ["tier", "is_active"]
    search_fields = ["name"]
    ordering_fields = ["name", "tier"]
    ordering = ["tier", "name", "id"]


class ServiceViewSet(ApiContractMixin, ConfigurationAuditViewSet, viewsets.ModelViewSet):
    queryset = Service.objects.select_related("support_team", "development_team")
    serializer_class = ServiceSerializer
    permission_classes = [IsAdministratorOrReadOnly]
    filterset_fields = ["is_active", "support_team", "development_team"]
    search_fields = ["name", "description"]
    ordering_fields = ["name"]
    ordering = ["name", "id"]

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        # A requester picks a service by name; which teams support it is staff's business.
        if self.action in ("list", "retrieve") and not is_staff_member(self.request.user):
            return PublicServiceSerializer
        return super().get_serializer_class()

    @extend_schema(methods=["get"], responses=ServiceRoleSerializer(many=True))
    @extend_schema(
        methods=["post"], request=ServiceRoleInput, responses={201: ServiceRoleSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="roles")
    def roles(self, request: Request, pk: str | None = None) -> Response:
        """Who holds a process role (Incident, Problem, Change, Release Manager) for this
        service only. Staff read; administrators name someone (POST) — 409 if they hold
        it already."""
        service = self.get_object()
        if request.method == "POST":
            body = ServiceRoleInput(data=request.data)
            body.is_valid(raise_exception=True)
            held = service_roles.service_role_assign(
                service=service, actor=request.user, **body.validated_data
            )
            return Response(ServiceRoleSerializer(held).data, status=status.HTTP_201_CREATED)
        if not can_view_service_roles(request.user):
            raise ActionForbidden("Role holders are for staff.")
        return Response(
            ServiceRoleSerializer(service_roles.service_roles_of(service), many=True).data
        )

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("role_id", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["delete"], url_path=r"roles/(?P<role_id>[0-9]+)")
    def role_remove(self, request: Request, pk: str | None = None, role_id: str = "") -> Response:
        """Take a per-service role back (administrators)."""
        held = self.get_object().role_holders.filter(pk=int(role_id)).first()
        if held is None:
            raise NotFound(f"No role holder {role_id} on this service.")
        service_roles.service_role_remove(held=held, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
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
