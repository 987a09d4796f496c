"""The API every ticket type shares: transitions, comments, history and SLA clocks.

A ticket viewset names its transition bodies and services and answers a few hooks; the
actions here are the same for incidents, problems, requests and changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core import attachments
from core.api.attachments import AttachmentSerializer, AttachmentUploadSerializer
from core.api.contract import ApiContractMixin
from core.api.schema import paginated
from core.api.serializers import AuditEventSerializer, CommentCreateSerializer, CommentSerializer
from core.api.watchers import WatchersMixin
from core.attachment_views import attachment_response
from core.exceptions import NotFound
from core.visibility import parts_for
from sla.api.serializers import ClockTimelineSerializer


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    required = serializers.ListField(child=serializers.CharField())


def transition_description(
    ticket: Any, name: str, inputs: dict[str, type[serializers.Serializer]]
) -> dict[str, object]:
    t = next(t for t in ticket.get_available_status_transitions() if t.name == name)
    body = inputs[name]()
    return {
        "name": name,
        "label": t.custom.get("label", name),
        "target": t.target,
        "fields": list(body.fields),
        "required": [f for f, field in body.fields.items() if field.required],
    }


class TicketViewSet(
    ApiContractMixin,
    WatchersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``{id}`` is the numeric id or the key (``INC-1042``, ``PRB-7``)."""

    filter_backends = [DjangoFilterBackend]
    lookup_value_regex = r"[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # transition name -> body serializer, and -> service(<ticket_kwarg>=, actor=, **body)
    transition_inputs: ClassVar[dict[str, type[serializers.Serializer]]]
    transition_services: ClassVar[dict[str, Callable[..., Any]]]
    ticket_kwarg: ClassVar[str]

    # --- hooks ----------------------------------------------------------------------------
    def find(self, ref: str) -> Any:
        """The ticket by id or key among those the user may see (404 otherwise)."""
        raise NotImplementedError

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        raise NotImplementedError

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        raise NotImplementedError

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    def get_object(self) -> Any:
        return self.find(self.kwargs["pk"])

    def present(self, ticket: Any, status_code: int = status.HTTP_200_OK) -> Response:
        """The ticket as the list shows it, read again (prefetches and all)."""
        return Response(self.get_serializer(self.find(str(ticket.pk))).data, status=status_code)

    @extend_schema(responses=TransitionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="transitions")
    def transitions(self, request: Request, pk: str | None = None) -> Response:
        """The transitions this user may fire now, with the fields each takes."""
        ticket = self.get_object()
        names = self.transitions_for(request.user, ticket)
        return Response([transition_description(ticket, n, self.transition_inputs) for n in names])

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH)],
        description="Fire a transition. The JSON body carries its fields (see /transitions/). "
        "409 when the state does not allow it, 403 when this user may not, 400 naming a "
        "missing or bad field, 404 for an unknown transition.",
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def fire(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        if name not in self.transition_inputs:
            known = ", ".join(self.transition_inputs)
            raise NotFound(f"No transition '{name}'. Known: {known}.")
        ticket = self.get_object()
        # Who and when come before what: a requester asking to assign hears 403, not 400.
        self.ensure_can_fire(request.user, ticket, name)
        body = self.transition_inputs[name](data=request.data)
        body.is_valid(raise_exception=True)
        self.transition_services[name](
            **{self.ticket_kwarg: ticket}, actor=request.user, **body.validated_data
        )
        return self.present(ticket)

    @extend_schema(methods=["get"], responses=CommentSerializer(many=True))
    @extend_schema(
        methods=["post"], request=CommentCreateSerializer, responses={201: CommentSerializer}
    )
    @paginated
    @action(detail=True, methods=["get", "post"], url_path="comments")
    def comments(self, request: Request, pk: str | None = None) -> Response:
        """Public replies and (for staff) internal work notes."""
        ticket = self.get_object()
        if request.method == "POST":
            body = CommentCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            comment = self.add_comment(ticket, request.user, **body.validated_data)
            return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        comments = parts_for(request.user, ticket).comments(ticket)
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @paginated
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The audit trail, oldest first: every transition and field change for staff; for
        a requester, the steps their page shows (``core.visibility``)."""
        ticket = self.get_object()
        parts = parts_for(request.user, ticket)
        page = self.paginate_queryset(parts.history(ticket))
        data = AuditEventSerializer(page, many=True, context={"parts": parts}).data
        return self.get_paginated_response(data)

    @extend_schema(responses=ClockTimelineSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="sla")
    def sla(self, request: Request, pk: str | None = None) -> Response:
        """Each SLA clock with its explainable timeline: why it started, paused, resumed,
        was re-targeted, warned, met or breached, and the audit entry that caused it. The
        timeline (``events``) is for staff: a requester gets the clocks without it."""
        ticket = self.get_object()
        parts = parts_for(request.user, ticket)
        clocks = ticket.sla_clocks.select_related("policy").prefetch_related("events")
        return Response(ClockTimelineSerializer(clocks, many=True, context={"parts": parts}).data)

    # --- attachments (core.attachments): the same on every record type ------------------
    def _attachment(self, request: Request, ticket: Any, att_id: str) -> Any:
        """A file of this ticket that the user may read (404 otherwise)."""
        att = parts_for(request.user, ticket).attachments(ticket).filter(pk=att_id).first()
        if att is None:
            raise NotFound(f"No attachment {att_id} on {ticket}.")
        return att

    @extend_schema(methods=["get"], responses=AttachmentSerializer(many=True))
    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        description="Upload a file (multipart, field ``file``). 400 when it is empty, too "
        "large (``ATTACHMENT_MAX_BYTES``) or of a type not allowed "
        "(``ATTACHMENT_ALLOWED_TYPES``, sniffed from its bytes); 403 for who may not "
        "reply or write a note on the record.",
    )
    @paginated
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="attachments",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
    )
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        """The files on the record this user may read (a requester: the public ones)."""
        ticket = self.get_object()
        context = {"request": request, "list_path": request.path}
        if request.method == "POST":
            data = request.data
            attachments.ensure_upload_kept(request)
            body = AttachmentUploadSerializer(data=data)
            body.is_valid(raise_exception=True)
            att = attachments.attachment_add(
                target=ticket, actor=request.user, **body.validated_data
            )
            return Response(
                AttachmentSerializer(att, context=context).data, status=status.HTTP_201_CREATED
            )
        page = self.paginate_queryset(parts_for(request.user, ticket).attachments(ticket))
        data = AttachmentSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        parameters=[OpenApiParameter("att_id", int, OpenApiParameter.PATH)],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file; images inline, others as download."
            )
        },
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<att_id>[0-9]+)/download")
    def attachment_download(self, request: Request, pk: str | None = None, att_id: str = "") -> Any:
        """The file's bytes, after the record's permission check."""
        att = self._attachment(request, self.get_object(), att_id)
        return attachment_response(att, download=request.query_params.get("download") == "1")

    @extend_schema(
        parameters=[OpenApiParameter("att_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"attachments/(?P<att_id>[0-9]+)")
    def attachment_remove(
        self, request: Request, pk: str | None = None, att_id: str = ""
    ) -> Response:
        """Remove a file: its uploader or an administrator (403 otherwise)."""
        att = self._attachment(request, self.get_object(), att_id)
        attachments.attachment_remove(attachment=att, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
