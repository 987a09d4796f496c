from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.export import CsvExportMixin
from core.api.schema import paginated
from core.ids import parse_key_number
from core.roles import is_staff_member
from itsm import selectors
from itsm.api.problem_serializers import (
    PROBLEM_TRANSITION_INPUTS,
    BulkResultSerializer,
    IncidentRefSerializer,
    LinkIncidentsInput,
    ProblemCreateSerializer,
    ProblemSerializer,
    ProblemUpdateSerializer,
    PublishWorkaroundInput,
    RecurringGroupSerializer,
    ResolveIncidentsInput,
    UnlinkIncidentInput,
)
from itsm.api.tickets import TicketViewSet
from itsm.exports import PROBLEM_COLUMNS
from itsm.models import Problem, ProblemStatus
from itsm.permissions import ensure_can_fire_problem
from itsm.recurring import MAX_DAYS
from itsm.services import problems as services


class ProblemFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ProblemStatus.choices)
    q = django_filters.CharFilter(method="filter_text")
    ordering = django_filters.OrderingFilter(fields=("created_at", "priority", "number"))

    class Meta:
        model = Problem
        fields = ["status", "priority", "service", "assignee", "team"]

    def filter_text(self, qs, name, value):  # type: ignore[no-untyped-def]
        from django.db.models import Q

        number = parse_key_number(value, "PRB")
        cond = Q(title__icontains=value) | Q(description__icontains=value)
        return qs.filter(cond | Q(number=number) if number else cond)


class ProblemViewSet(CsvExportMixin, TicketViewSet):
    """Problems: the cause behind incidents. Staff only; ``{id}`` is the id or the key."""

    serializer_class = ProblemSerializer
    filterset_class = ProblemFilter
    transition_inputs = PROBLEM_TRANSITION_INPUTS
    transition_services = services.PROBLEM_TRANSITION_SERVICES
    ticket_kwarg = "problem"
    export_columns = PROBLEM_COLUMNS
    export_filename = "problems"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.problem_list(self.request.user).order_by("-created_at", "-id")

    def find(self, ref: str) -> Any:
        return selectors.problem_get(self.request.user, ref)

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        ensure_can_fire_problem(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        return selectors.problem_transitions_for(user, ticket)

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        return services.problem_comment(problem=ticket, actor=user, body=body)

    @extend_schema(request=ProblemCreateSerializer, responses={201: ProblemSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ProblemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        incidents = selectors.incidents_by_keys(request.user, data.pop("incidents"))
        problem = services.problem_create(actor=request.user, incidents=incidents, **data)
        return self.present(problem, status_code=201)

    @extend_schema(request=ProblemUpdateSerializer, responses=ProblemSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ProblemUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        problem = services.problem_update(
            problem=self.get_object(), actor=request.user, **body.validated_data
        )
        return self.present(problem)

    @extend_schema(methods=["get"], responses=IncidentRefSerializer(many=True))
    @extend_schema(
        methods=["post"], request=LinkIncidentsInput, responses=IncidentRefSerializer(many=True)
    )
    @paginated
    @action(detail=True, methods=["get", "post"], url_path="incidents")
    def incidents(self, request: Request, pk: str | None = None) -> Response:
        """The linked incidents; POST links more (ids or keys)."""
        problem = self.get_object()
        if request.method == "POST":
            body = LinkIncidentsInput(data=request.data)
            body.is_valid(raise_exception=True)
            incidents = selectors.incidents_by_keys(request.user, body.validated_data["incidents"])
            services.problem_link_incidents(
                problem=problem, actor=request.user, incidents=incidents
            )
        page = self.paginate_queryset(selectors.problem_incidents(problem))
        return self.get_paginated_response(IncidentRefSerializer(page, many=True).data)

    @extend_schema(request=UnlinkIncidentInput, responses=ProblemSerializer)
    @action(detail=True, methods=["post"], url_path="unlink-incident")
    def unlink_incident(self, request: Request, pk: str | None = None) -> Response:
        body = UnlinkIncidentInput(data=request.data)
        body.is_valid(raise_exception=True)
        problem = self.get_object()
        [incident] = selectors.incidents_by_keys(request.user, [body.validated_data["incident"]])
        services.problem_unlink_incident(problem=problem, actor=request.user, incident=incident)
        return self.present(problem)

    @extend_schema(request=PublishWorkaroundInput, responses=ProblemSerializer)
    @action(detail=True, methods=["post"], url_path="publish-workaround")
    def publish_workaround(self, request: Request, pk: str | None = None) -> Response:
        """Publish the workaround to the linked incidents (and tell their agents)."""
        body = PublishWorkaroundInput(data=request.data)
        body.is_valid(raise_exception=True)
        problem = services.problem_publish_workaround(
            problem=self.get_object(),
            actor=request.user,
            workaround=body.validated_data.get("workaround"),
        )
        return self.present(problem)

    @extend_schema(request=ResolveIncidentsInput, responses=BulkResultSerializer)
    @action(detail=True, methods=["post"], url_path="resolve-incidents")
    def resolve_incidents(self, request: Request, pk: str | None = None) -> Response:
        """Resolve the open linked incidents with the problem's resolution, in one action:
        all of them for the Problem Manager and the Incident Manager, whatever queue holds
        them; for anyone else those they work (the rest are listed under ``skipped``)."""
        body = ResolveIncidentsInput(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.problem_resolve_incidents(
            problem=self.get_object(), actor=request.user, **body.validated_data
        )
        return Response({"resolved": [i.key for i in result.resolved], "skipped": result.skipped})

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int, description=f"The window, 1 to {MAX_DAYS} (30)."),
            OpenApiParameter("minimum", int, description="Smallest cluster, at least 2 (3)."),
        ],
        responses=RecurringGroupSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="candidates")
    def candidates(self, request: Request) -> Response:
        """Recurring incidents: clusters of incidents of one service that describe the same
        thing (similar title and description), neither cancelled nor linked to a problem,
        in the last ``days``; the largest and most alike first. Candidates for a problem."""
        from core.exceptions import ActionForbidden, ValidationFailed

        if not is_staff_member(request.user):
            raise ActionForbidden("Problems are for support and development staff.")
        try:
            days = int(request.query_params.get("days", 30))
            minimum = int(request.query_params.get("minimum", 3))
        except ValueError:
            raise ValidationFailed("days and minimum are whole numbers.", field="days") from None
        if not 1 <= days <= MAX_DAYS:
            raise ValidationFailed(f"days is 1 to {MAX_DAYS}.", field="days")
        # a count is never above 2**31: a larger minimum would overflow the driver (a 500)
        groups = selectors.recurring_incidents(days=days, minimum=min(max(minimum, 2), 2**31))
        return Response(RecurringGroupSerializer(groups, many=True).data)
