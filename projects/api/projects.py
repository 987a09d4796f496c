"""Projects in the API: read them (staff), and create, edit, archive and restore them
(administrators and Project Managers, through ``projects.services.projects``)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import bodies
from core.api.contract import ApiContractMixin
from core.api.schema import paginated
from core.api.serializers import AuditEventSerializer
from core.models import Service, Team, Tier
from core.roles import STAFF_ROLES
from core.visibility import parts_for
from projects import selectors, services
from projects.api.serializers import ProjectSerializer
from projects.models import Project, ReviewScope
from sla.models import BusinessCalendar

User = get_user_model()


def staff_users() -> QuerySet[Any]:
    """Who may lead a project: active members of staff."""
    return (
        User.objects.filter(is_active=True, groups__name__in=[r.value for r in STAFF_ROLES])
        .distinct()
        .order_by("username")
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 1},
        "example": {"in_progress": 4},
    }
)
class WipLimitsField(serializers.Field):
    """Column (work item state) → limit: a JSON object, or its text from a page form."""

    default_error_messages = {"invalid": 'An object of column → limit, e.g. {{"in_progress": 4}}.'}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            text = data.strip()
            if not text:
                return {}
            try:
                data = json.loads(text)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return data  # the service checks columns and limits

    def to_representation(self, value: Any) -> Any:
        return value


class ProjectUpdateSerializer(serializers.Serializer):
    """What an edit may change (every field optional in a PATCH)."""

    code = serializers.CharField(
        max_length=12, help_text="2–12 letters and digits, e.g. PAY (fixed once it has items)."
    )
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.filter(tier=Tier.DEVELOPMENT),
        help_text="The development team that owns it.",
    )
    services = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(),
        many=True,
        required=False,
        help_text="The services it builds.",
    )
    project_manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        label="Lead (project manager)",
    )
    calendar = serializers.PrimaryKeyRelatedField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        allow_null=True,
        help_text="The team's working days (release slips count in them); empty: Mon–Fri.",
    )
    review_scope = serializers.ChoiceField(
        choices=ReviewScope.choices,
        required=False,
        help_text="Which articles a go-live flags for review.",
    )
    wip_limits = WipLimitsField(
        required=False,
        label="WIP limits",
        help_text='Per board column, e.g. {"in_progress": 4}: a column over it is flagged.',
    )


class ProjectCreateSerializer(ProjectUpdateSerializer):
    review_scope = serializers.ChoiceField(
        choices=ReviewScope.choices,
        required=False,
        default=ReviewScope.TOUCHED,
        help_text="Which articles a go-live flags for review.",
    )


class ReasonOptional(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


with_unknown = bodies.with_unknown  # imported from here by the other project views


ARCHIVED = OpenApiParameter(
    "archived",
    OpenApiTypes.STR,
    enum=["false", "true", "all"],
    description="false (default): active projects; true: archived ones; all: both.",
)


class ProjectViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Projects. The list shows active ones unless ``archived`` says otherwise; a
    project is always found by its code."""

    serializer_class = ProjectSerializer
    lookup_field = "code"
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = selectors.project_list(self.request.user)
        if self.action == "list":
            qs = selectors.filter_archived(qs, self.request.query_params.get("archived"))
        return qs

    @extend_schema(parameters=[ARCHIVED])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _present(self, project: Project, status_code: int = 200) -> Response:
        row = selectors.project_list(self.request.user).get(pk=project.pk)
        return Response(ProjectSerializer(row, context={"request": self.request}).data, status_code)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request) -> Response:
        """Create a project (administrators and Project Managers)."""
        body = ProjectCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_create(actor=request.user, **body.validated_data)
        return self._present(project, 201)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def partial_update(self, request: Request, code: str | None = None) -> Response:
        """Edit a project (administrators and Project Managers). The code is fixed once
        the project has work items or releases; archiving has its own actions."""
        project = self.get_object()
        body = ProjectUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.project_update(project=project, actor=request.user, **with_unknown(request, body))
        return self._present(project)

    @extend_schema(request=ReasonOptional, responses=ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="archive")
    def archive(self, request: Request, code: str | None = None) -> Response:
        """Archive: hidden from lists and create forms, no new items, releases or
        iterations; still readable."""
        body = ReasonOptional(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_archive(
            project=self.get_object(), actor=request.user, **body.validated_data
        )
        return self._present(project)

    @extend_schema(request=ReasonOptional, responses=ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="restore")
    def restore(self, request: Request, code: str | None = None) -> Response:
        """Undo an archive."""
        body = ReasonOptional(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_restore(
            project=self.get_object(), actor=request.user, **body.validated_data
        )
        return self._present(project)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @paginated
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, code: str | None = None) -> Response:
        """The project's audit trail: created, updated (with the fields), archived,
        restored."""
        project = self.get_object()
        parts = parts_for(request.user, project)
        page = self.paginate_queryset(parts.history(project))
        data = AuditEventSerializer(page, many=True, context={"parts": parts}).data
        return self.get_paginated_response(data)
