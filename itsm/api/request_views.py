from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.contract import ApiContractMixin
from core.api.export import CsvExportMixin
from core.exceptions import NotFound
from core.ids import parse_id
from itsm import selectors
from itsm.api.request_serializers import (
    REQUEST_TRANSITION_INPUTS,
    ApprovalSerializer,
    CatalogItemSerializer,
    DecideInput,
    RequestSubmitSerializer,
    ServiceRequestSerializer,
    TaskSerializer,
    TaskTransitionInput,
)
from itsm.api.tickets import TicketViewSet
from itsm.exports import REQUEST_COLUMNS
from itsm.models import TASK_TRANSITIONS, Approval, RequestStatus, ServiceRequest
from itsm.permissions import ensure_can_fire_request
from itsm.services import approvals
from itsm.services import requests as services


class CatalogItemViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The request catalogue (kept in the admin), with the fields each item asks for."""

    serializer_class = CatalogItemSerializer
    filterset_fields = ["service"]
    search_fields = ["name", "description"]
    ordering = ["service__name", "name"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.catalog_items()


class RequestFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RequestStatus.choices)

    class Meta:
        model = ServiceRequest
        fields = ["status", "item", "team", "requester", "assignee"]


class ServiceRequestViewSet(CsvExportMixin, TicketViewSet):
    """Service requests. POST orders a catalogue item with its answers."""

    serializer_class = ServiceRequestSerializer
    filterset_class = RequestFilter
    transition_inputs = REQUEST_TRANSITION_INPUTS
    transition_services = services.REQUEST_TRANSITION_SERVICES
    ticket_kwarg = "request"
    export_columns = REQUEST_COLUMNS
    export_filename = "requests"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.request_list(self.request.user).order_by("-created_at", "-id")

    def find(self, ref: str) -> Any:
        return selectors.request_get(self.request.user, ref)

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        ensure_can_fire_request(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        return selectors.request_transitions_for(user, ticket)

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        return services.request_comment(request=ticket, actor=user, body=body, public=public)

    @extend_schema(request=RequestSubmitSerializer, responses={201: ServiceRequestSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = RequestSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        req = services.request_submit(actor=request.user, **body.validated_data)
        return self.present(req, status_code=201)

    @extend_schema(responses=ApprovalSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="approvals")
    def approvals(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            ApprovalSerializer(approvals.approvals_of(self.get_object()), many=True).data
        )

    @extend_schema(
        request=TaskTransitionInput,
        responses=TaskSerializer,
        parameters=[
            OpenApiParameter("task_id", int, OpenApiParameter.PATH),
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(TASK_TRANSITIONS)),
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"tasks/(?P<task_id>[0-9]+)/transitions/(?P<name>[a-z_]+)",
    )
    def task_fire(
        self, request: Request, pk: str | None = None, task_id: str = "", name: str = ""
    ) -> Response:
        """Start, complete or cancel a fulfilment task."""
        req = self.get_object()
        task = req.tasks.filter(pk=int(task_id)).first()
        if task is None or name not in TASK_TRANSITIONS:
            raise NotFound(f"No task {task_id} or transition '{name}' on {req.key}.")
        body = TaskTransitionInput(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_transition(
            task=task, actor=request.user, name=name, **body.validated_data
        )
        return Response(TaskSerializer(task).data)


class ApprovalViewSet(ApiContractMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Approvals waiting for you (or your groups); POST decide/ approves or rejects."""

    serializer_class = ApprovalSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Approval.objects.none()
        return approvals.pending_for(self.request.user).order_by("created_at", "id")

    @extend_schema(request=DecideInput, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"], url_path="decide")
    def decide(self, request: Request, pk: str | None = None) -> Response:
        number = parse_id(pk)  # /approvals/abc/decide/ is no approval, not a ValueError
        approval = Approval.objects.filter(pk=number).first() if number else None
        if approval is None or not approvals.may_decide(request.user, approval):
            raise NotFound(f"No approval {pk} for you.")
        body = DecideInput(data=request.data)
        body.is_valid(raise_exception=True)
        decided = decide_any(approval, request.user, **body.validated_data)
        return Response(ApprovalSerializer(decided).data)


def decide_any(approval: Approval, user: Any, decision: str, comment: str) -> Approval:
    """Route a decision to the service of the ticket it belongs to."""
    model = approval.content_type.model_class()
    if model is ServiceRequest:
        return services.request_decide(
            approval=approval, actor=user, decision=decision, comment=comment
        )
    from itsm.services import changes

    return changes.change_decide(approval=approval, actor=user, decision=decision, comment=comment)


def why_not_decide(approval: Approval, user: Any) -> str | None:
    """Why this user may not decide this approval (None: they may), by the same rules
    the ticket's decide service applies: it is theirs, and no conflict of interest."""
    if not approvals.may_decide(user, approval):
        return "This approval is not yours to give."
    ticket = approval.ticket
    if isinstance(ticket, ServiceRequest):
        return services.request_conflict(ticket, user)
    from itsm.services import changes

    why = changes.change_conflict(ticket, user)
    return why[:1].upper() + why[1:] if why else None
