from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import AuditEventSerializer, CommentCreateSerializer, CommentSerializer
from core.exceptions import NotFound
from itsm import selectors, services
from itsm.api.serializers import (
    TRANSITION_INPUTS,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    TransitionSerializer,
    transition_description,
)
from itsm.filters import IncidentFilter
from itsm.models import Incident
from itsm.permissions import ensure_can_fire
from sla.api.serializers import ClockTimelineSerializer


class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents. ``{id}`` is the numeric id or the key (``INC-1042``)."""

    serializer_class = IncidentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    lookup_value_regex = r"[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.incident_list(self.request.user)

    def get_object(self) -> Incident:
        return selectors.incident_get(self.request.user, self.kwargs["pk"])

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = IncidentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.incident_create(actor=request.user, **body.validated_data)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=IncidentUpdateSerializer, responses=IncidentSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        incident = self.get_object()
        body = IncidentUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        incident = services.incident_update(
            incident=incident, actor=request.user, **body.validated_data
        )
        return Response(IncidentSerializer(selectors.incident_get(request.user, incident.pk)).data)

    @extend_schema(responses=TransitionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="transitions")
    def transitions(self, request: Request, pk: str | None = None) -> Response:
        """The transitions this user may fire now, with the fields each takes."""
        incident = self.get_object()
        names = selectors.incident_transitions_for(request.user, incident)
        return Response([transition_description(incident, n) for n in names])

    @extend_schema(
        request=None,
        responses=IncidentSerializer,
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(TRANSITION_INPUTS))
        ],
        description="Fire a transition. The JSON body carries its fields (see /transitions/). "
        "409 when the state does not allow it, 403 when this user may not, 400 naming a "
        "missing or bad field.",
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def fire(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        if name not in TRANSITION_INPUTS:
            raise NotFound(f"No transition '{name}'. Known: {', '.join(TRANSITION_INPUTS)}.")
        incident = self.get_object()
        # Who and when come before what: a requester asking to assign hears 403, not 400.
        ensure_can_fire(request.user, incident, name)
        body = TRANSITION_INPUTS[name](data=request.data)
        body.is_valid(raise_exception=True)
        services.TRANSITION_SERVICES[name](
            incident=incident, actor=request.user, **body.validated_data
        )
        return Response(IncidentSerializer(selectors.incident_get(request.user, incident.pk)).data)

    @extend_schema(methods=["get"], responses=CommentSerializer(many=True))
    @extend_schema(
        methods=["post"], request=CommentCreateSerializer, responses={201: CommentSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="comments")
    def comments(self, request: Request, pk: str | None = None) -> Response:
        """Public replies and (for staff) internal work notes."""
        incident = self.get_object()
        if request.method == "POST":
            body = CommentCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            comment = services.incident_comment(
                incident=incident, actor=request.user, **body.validated_data
            )
            return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.incident_comments(request.user, incident))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(responses=ClockTimelineSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="sla")
    def sla(self, request: Request, pk: str | None = None) -> Response:
        """Each SLA clock with its explainable timeline: why it started, paused, resumed,
        was re-targeted, warned, met or breached, and the audit entry that caused it."""
        incident = self.get_object()
        clocks = incident.sla_clocks.select_related("policy").prefetch_related("events")
        return Response(ClockTimelineSerializer(clocks, many=True).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The audit trail: every transition and field change, oldest first."""
        incident = self.get_object()
        page = self.paginate_queryset(selectors.incident_history(incident))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
