from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.contract import ApiContractMixin
from core.api.export import CsvExportMixin
from core.api.permissions import IsStaffReadAdministratorWrite
from core.config_audit import ConfigurationAuditViewSet
from core.ids import IdsFilter
from core.models import Service
from core.params import MomentFilter
from itsm import selectors
from itsm.api.change_serializers import (
    CHANGE_TRANSITION_INPUTS,
    ChangeCreateSerializer,
    ChangeSerializer,
    ChangeUpdateSerializer,
    FreezeWindowSerializer,
    LinkIncidentInput,
    StandardChangeTemplateSerializer,
)
from itsm.api.request_serializers import ApprovalSerializer
from itsm.api.tickets import TicketViewSet
from itsm.exports import CHANGE_COLUMNS
from itsm.models import (
    Change,
    ChangeStatus,
    ChangeType,
    FreezeWindow,
    Risk,
    StandardChangeTemplate,
)
from itsm.permissions import ensure_can_fire_change
from itsm.services import approvals
from itsm.services import changes as services


class ChangeFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ChangeStatus.choices)
    type = django_filters.ChoiceFilter(choices=ChangeType.choices)
    planned_after = MomentFilter(field_name="planned_start", lookup_expr="gte")
    planned_before = MomentFilter(field_name="planned_start", lookup_expr="lt")
    risk = django_filters.ChoiceFilter(
        choices=[("unassessed", "Not assessed"), *[c for c in Risk.choices if c[0]]],
        method="filter_risk",
        help_text="A risk level, or 'unassessed' for changes not assessed yet.",
    )
    ordering = django_filters.OrderingFilter(fields=("created_at", "planned_start", "number"))
    services = IdsFilter(queryset=Service.objects.all())

    def filter_risk(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.filter(risk=Risk.NOT_ASSESSED if value == "unassessed" else value)

    class Meta:
        model = Change
        fields = ["status", "type", "services", "requested_by", "implementer", "risk"]


class ChangeViewSet(CsvExportMixin, TicketViewSet):
    """Changes (staff). ``{id}`` is the id or the key (``CHG-1001``)."""

    serializer_class = ChangeSerializer
    filterset_class = ChangeFilter
    transition_inputs = CHANGE_TRANSITION_INPUTS
    transition_services = services.CHANGE_TRANSITION_SERVICES
    ticket_kwarg = "change"
    export_columns = CHANGE_COLUMNS
    export_filename = "changes"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.change_list(self.request.user).order_by("-created_at", "-id")

    def find(self, ref: str) -> Any:
        return selectors.change_get(self.request.user, ref)

    def paginate_queryset(self, queryset):  # type: ignore[no-untyped-def]
        # Conflicts and freeze windows of the whole page in two queries, not two per row.
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":  # not /history/, /attachments/…
            selectors.change_windows(page)
        return page

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        ensure_can_fire_change(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        return selectors.change_transitions_for(user, ticket)

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        return services.change_comment(change=ticket, actor=user, body=body)

    @extend_schema(request=ChangeCreateSerializer, responses={201: ChangeSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ChangeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_create(actor=request.user, **body.validated_data)
        return self.present(change, status_code=201)

    @extend_schema(request=ChangeUpdateSerializer, responses=ChangeSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ChangeUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        change = services.change_update(
            change=self.get_object(), actor=request.user, **body.validated_data
        )
        return self.present(change)

    @extend_schema(responses=ApprovalSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="approvals")
    def approvals(self, request: Request, pk: str | None = None) -> Response:
        """The CAB's approvals, one per required approver."""
        return Response(
            ApprovalSerializer(approvals.approvals_of(self.get_object()), many=True).data
        )

    @extend_schema(request=LinkIncidentInput, responses=ChangeSerializer)
    @action(detail=True, methods=["post"], url_path="caused-incidents")
    def caused_incidents(self, request: Request, pk: str | None = None) -> Response:
        """Record that this change caused an incident."""
        body = LinkIncidentInput(data=request.data)
        body.is_valid(raise_exception=True)
        change = self.get_object()
        [incident] = selectors.incidents_by_keys(request.user, [body.validated_data["incident"]])
        services.change_link_incident(change=change, actor=request.user, incident=incident)
        return self.present(change)


class FreezeWindowViewSet(ApiContractMixin, ConfigurationAuditViewSet, viewsets.ModelViewSet):
    queryset = FreezeWindow.objects.prefetch_related("services").order_by("start", "id")
    serializer_class = FreezeWindowSerializer
    # Change management is staff's business (core.matrix): requesters see no change.
    permission_classes = [IsStaffReadAdministratorWrite]


class StandardChangeTemplateViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = (
        StandardChangeTemplate.objects.filter(is_active=True)
        .prefetch_related("services")
        .order_by("name")
    )
    serializer_class = StandardChangeTemplateSerializer
    permission_classes = [IsStaffReadAdministratorWrite]
