"""Canned replies over the API: the user's replies (their own and their teams'; an
Administrator also every team's), created, changed and removed through the services, and
one filled in for a ticket (``GET /api/v1/canned-replies/{id}/render/?ticket=INC-1042``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.bodies import with_unknown
from core.api.contract import ApiContractMixin
from core.api.serializers import TeamRefSerializer, UserRefSerializer
from core.selectors import team_ref
from itsm.models import CannedReply
from itsm.services import canned


class CannedReplySerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField(help_text='"personal" or "team".')
    team = TeamRefSerializer(read_only=True, allow_null=True)
    owner = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CannedReply
        fields = ["id", "title", "body", "scope", "team", "owner", "created_at", "updated_at"]

    def get_scope(self, reply: CannedReply) -> str:
        return "personal" if reply.is_personal else "team"


class CannedReplyCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(trim_whitespace=False)
    team = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The team to share the reply with (a team you are in); none: personal.",
    )


class CannedReplyUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=120, required=False)
    body = serializers.CharField(required=False, trim_whitespace=False)


class CannedRenderOutput(serializers.Serializer):
    body = serializers.CharField()


TICKET = OpenApiParameter(
    "ticket",
    OpenApiTypes.STR,
    required=True,
    description="The key of an incident or service request you may see: INC-1042, REQ-17.",
)


class CannedReplyViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Canned replies: personal, or shared with a team. Placeholders (``{{ ticket.key }}``
    …) are a fixed list; a body naming another is refused (400)."""

    serializer_class = CannedReplySerializer
    filter_backends: list[type] = []
    lookup_value_regex = r"[0-9]{1,18}"  # an id past bigint is no reply (404), not a 500
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return canned.canned_replies_visible(self.request.user).select_related("owner")

    def _present(self, reply: CannedReply, status_code: int = 200) -> Response:
        return Response(
            CannedReplySerializer(self.get_queryset().get(pk=reply.pk)).data, status=status_code
        )

    @extend_schema(request=CannedReplyCreateInput, responses={201: CannedReplySerializer})
    def create(self, request: Request) -> Response:
        body = CannedReplyCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        team = team_ref(data.pop("team", None))
        reply = canned.canned_reply_create(actor=request.user, team=team, **data)
        return self._present(reply, 201)

    @extend_schema(request=CannedReplyUpdateInput, responses=CannedReplySerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        body = CannedReplyUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = with_unknown(request, body)  # other fields: refused by name, not dropped
        reply = canned.canned_reply_update(reply=self.get_object(), actor=request.user, **data)
        return self._present(reply)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        canned.canned_reply_delete(reply=self.get_object(), actor=request.user)
        return Response(status=204)

    @extend_schema(parameters=[TICKET], responses=CannedRenderOutput)
    @action(detail=True, methods=["get"], url_path="render")
    def render(self, request: Request, pk: str | None = None) -> Response:
        """The reply filled in for the ticket (404 for a ticket you may not see)."""
        reply = self.get_object()
        ticket = canned.canned_ticket(request.user, request.query_params.get("ticket", ""))
        return Response(
            {"body": canned.canned_render(reply=reply, ticket=ticket, agent=request.user)}
        )
