from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.export import CsvExportMixin
from core.api.pagination import CountedPagination, KeptFilterBackend
from core.extensions import prefetches_for
from itsm import selectors, services
from itsm.api.incident_links import IncidentLinksMixin
from itsm.api.serializers import (
    TRANSITION_INPUTS,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
)
from itsm.api.tickets import TicketViewSet
from itsm.counts import incident_counts
from itsm.exports import INCIDENT_COLUMNS
from itsm.filters import IncidentFilter
from itsm.models import Incident
from itsm.permissions import ensure_can_fire
from sla.selectors import PREFETCHED_CLOCKS


class IncidentViewSet(CsvExportMixin, IncidentLinksMixin, TicketViewSet):
    """Incidents. ``{id}`` is the numeric id or the key (``INC-1042``)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    filter_backends = [KeptFilterBackend]
    pagination_class = CountedPagination
    transition_inputs = TRANSITION_INPUTS
    transition_services = services.TRANSITION_SERVICES
    ticket_kwarg = "incident"
    export_columns = INCIDENT_COLUMNS
    export_filename = "incidents"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.incident_list(self.request.user)

    def find(self, ref: str) -> Any:
        return selectors.incident_get(self.request.user, ref)

    def list_count(self, queryset: Any) -> tuple[int, bool]:
        """The list's total from the counts table, or capped (``itsm.counts``); a
        sub-list (comments, history) is counted as it is."""
        if self.action != "list":
            return queryset.count(), True
        counts = incident_counts(self.request.user, "all", queryset, self.active_filterset)
        return counts.total, counts.exact

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        ensure_can_fire(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        return selectors.incident_transitions_for(user, ticket)

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        return services.incident_comment(incident=ticket, actor=user, body=body, public=public)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = IncidentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.incident_create(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(_as_created(incident)).data, status=201)

    @extend_schema(request=IncidentUpdateSerializer, responses=IncidentSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = IncidentUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        incident = services.incident_update(
            incident=self.get_object(), actor=request.user, **body.validated_data
        )
        return self.present(incident)

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"], url_path="take")
    def take(self, request: Request, pk: str | None = None) -> Response:
        """*Assign to me*: the caller, a member of the incident's team, becomes its assignee
        (new or assigned incidents; 403 for others, 409 when it is theirs already)."""
        incident = services.incident_take(incident=self.get_object(), actor=request.user)
        return self.present(incident)


def _as_created(incident: Incident) -> Incident:
    """The new incident ready for its response without reading it back: the create holds
    its service, team and requester (the body's validation and the service loaded them),
    it has no assignee, problem or cause yet, and its clocks are the ones it just started
    (their policy came with its calendar), in the order the model reads them. Only what
    other apps add (core.extensions) is read, as the list reads it: a subscriber may have
    written some (a hypercare route)."""
    started = incident.sla_clocks_started  # type: ignore[attr-defined]
    setattr(incident, PREFETCHED_CLOCKS, list(started))  # as sla.selectors.clock_prefetch
    prefetch_related_objects([incident], *prefetches_for("incident"))
    return incident
