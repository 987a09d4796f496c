"""Incidents' links to each other in the API: ``/related/`` and ``/children/`` (GET, POST,
DELETE naming the other incident) and ``POST /merge/``, actions of the incident viewset
(a mixin of ``itsm.api.views.IncidentViewSet``). Writes go through
``itsm.services.incident_links``; the other incident is found among those the caller may
see (404 otherwise), like the incident itself."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import ValidationFailed
from core.visibility import parts_for
from itsm import selectors
from itsm.models import Incident
from itsm.services import incident_links


class IncidentBriefSerializer(serializers.ModelSerializer):
    """Another incident as a link shows it."""

    key = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "key", "title", "status", "priority", "major_incident"]
        read_only_fields = fields


class IncidentRefInput(serializers.Serializer):
    incident = serializers.CharField(help_text="The other incident: its id or key (INC-1042).")


class MergeInput(serializers.Serializer):
    master = serializers.CharField(help_text="The incident to merge into: its id or key.")
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class IncidentStandingSerializer(serializers.Serializer):
    """How an incident stands among others."""

    duplicate_of = IncidentBriefSerializer(allow_null=True)
    duplicates = IncidentBriefSerializer(many=True)
    parent = IncidentBriefSerializer(allow_null=True)
    children = IncidentBriefSerializer(many=True)
    related = IncidentBriefSerializer(many=True)


REF_PARAM = OpenApiParameter(
    "incident",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="DELETE: the other incident (id or key), or give it in the body as ``incident``.",
)


class IncidentLinksMixin:
    """``get_object`` (the viewset's) finds the incident the URL names."""

    def _other(self, request: Request) -> Incident:
        ref = request.query_params.get("incident")
        if not ref and hasattr(request.data, "get"):
            ref = request.data.get("incident")
        body = IncidentRefInput(data={"incident": ref or ""})
        if not body.is_valid():
            raise ValidationFailed("Name the other incident (id or key).", field="incident")
        return selectors.incident_get(request.user, body.validated_data["incident"])

    def _list(self, qs: Any) -> Response:
        return Response(IncidentBriefSerializer(qs, many=True).data)

    @extend_schema(methods=["get"], responses=IncidentBriefSerializer(many=True))
    @extend_schema(
        methods=["post"],
        request=IncidentRefInput,
        responses={201: IncidentBriefSerializer(many=True)},
        description="Link another incident as related (both list each other).",
    )
    @extend_schema(
        methods=["delete"],
        request=IncidentRefInput,
        parameters=[REF_PARAM],
        responses={204: None},
        description="Remove a related link (404 when not linked).",
    )
    @action(detail=True, methods=["get", "post", "delete"], url_path="related")
    def related(self, request: Request, pk: str | None = None) -> Response:
        """Related incidents (staff; a requester sees none)."""
        incident = self.get_object()  # type: ignore[attr-defined]
        if request.method == "GET":
            if not parts_for(request.user, incident).linked_records:
                return self._list(Incident.objects.none())
            return self._list(selectors.incident_related(incident))
        other = self._other(request)
        if request.method == "POST":
            incident_links.incident_relate(incident=incident, other=other, actor=request.user)
            data = IncidentBriefSerializer(selectors.incident_related(incident), many=True).data
            return Response(data, status=status.HTTP_201_CREATED)
        incident_links.incident_unrelate(incident=incident, other=other, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["get"], responses=IncidentBriefSerializer(many=True))
    @extend_schema(
        methods=["post"],
        request=IncidentRefInput,
        responses={201: IncidentBriefSerializer(many=True)},
        description="Add a child incident to this major incident: it is resolved with it. "
        "409 when this is no major incident, or the child has children or another parent.",
    )
    @extend_schema(
        methods=["delete"],
        request=IncidentRefInput,
        parameters=[REF_PARAM],
        responses={204: None},
        description="Detach a child incident (404 when it is not a child of this one).",
    )
    @action(detail=True, methods=["get", "post", "delete"], url_path="children")
    def children(self, request: Request, pk: str | None = None) -> Response:
        """The child incidents of a major incident, with their state (staff)."""
        incident = self.get_object()  # type: ignore[attr-defined]
        if request.method == "GET":
            if not parts_for(request.user, incident).linked_records:
                return self._list(Incident.objects.none())
            return self._list(selectors.incident_children(incident))
        other = self._other(request)
        if request.method == "POST":
            incident_links.incident_child_add(parent=incident, child=other, actor=request.user)
            data = IncidentBriefSerializer(selectors.incident_children(incident), many=True).data
            return Response(data, status=status.HTTP_201_CREATED)
        incident_links.incident_child_remove(parent=incident, child=other, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=MergeInput,
        responses=IncidentBriefSerializer,
        description="Close this incident as a duplicate of ``master``: its comments (public "
        "and internal as they were) and watchers go over to the master, its requester is "
        "told. 400 into itself; 403 unless the caller works both; 409 when this one is not "
        "open or the master is closed, cancelled or merged itself. Answers the master.",
    )
    @action(detail=True, methods=["post"], url_path="merge")
    def merge(self, request: Request, pk: str | None = None) -> Response:
        duplicate = self.get_object()  # type: ignore[attr-defined]
        body = MergeInput(data=request.data)
        body.is_valid(raise_exception=True)
        master = selectors.incident_get(request.user, body.validated_data["master"])
        master = incident_links.incident_merge(
            duplicate=duplicate,
            master=master,
            actor=request.user,
            comment=body.validated_data["comment"],
        )
        return Response(IncidentBriefSerializer(master).data)

    @extend_schema(responses=IncidentStandingSerializer)
    @action(detail=True, methods=["get"], url_path="links")
    def links(self, request: Request, pk: str | None = None) -> Response:
        """Everything at once: merged into / merged in, parent / children, related.
        A requester sees only what their incident was merged into."""
        incident = self.get_object()  # type: ignore[attr-defined]
        data = selectors.incident_links(request.user, incident)
        return Response(IncidentStandingSerializer(data).data)
