"""Saved desk views over the API (``/api/v1/saved-views/``): the same services as the
desk's Save / Update / Delete buttons."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.bodies import with_unknown
from core.api.contract import ApiContractMixin
from core.api.serializers import TeamRefSerializer, UserRefSerializer
from core.selectors import team_ref
from itsm import selectors
from itsm.models import DESK_COLUMNS, SavedView
from itsm.permissions import can_edit_saved_view
from itsm.services import saved_views as service

QUERY_HELP = (
    "The desk's parameters: queue (mine, unassigned, all, team-<id>), ordering and any "
    "filter of GET /api/v1/incidents/, each a list of values, "
    'e.g. {"queue": ["team-3"], "priority": ["1", "2"], "sla": ["breached"]}.'
)
COLUMNS_HELP = (
    "Columns shown, from: "
    + ", ".join(key for key, _ in DESK_COLUMNS)
    + ". Empty: the default set."
)


class SavedViewSerializer(serializers.ModelSerializer):
    owner = UserRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    query = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text=QUERY_HELP
    )
    columns = serializers.ListField(child=serializers.CharField(), help_text=COLUMNS_HELP)
    desk_url = serializers.SerializerMethodField(help_text="The desk page showing this view.")
    editable = serializers.SerializerMethodField(help_text="Whether you may change it.")

    class Meta:
        model = SavedView
        fields = [
            "id",
            "name",
            "owner",
            "team",
            "query",
            "columns",
            "desk_url",
            "editable",
            "created_at",
            "updated_at",
        ]

    def get_desk_url(self, view: SavedView) -> str:
        return f"/desk/?{service.view_querystring(view)}&view={view.pk}"

    def get_editable(self, view: SavedView) -> bool:
        request = self.context.get("request")
        return bool(request and can_edit_saved_view(request.user, view))


class SavedViewInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    team = serializers.IntegerField(
        required=False, allow_null=True, help_text="Share with this team; null: personal."
    )
    query = serializers.JSONField(required=False, default=dict, help_text=QUERY_HELP)
    columns = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, help_text=COLUMNS_HELP
    )


class SavedViewPatchInput(SavedViewInput):
    name = serializers.CharField(max_length=200, required=False)


class SavedViewViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The views you may open: your own, your teams' shared ones (an Administrator: every
    team's). Personal views are changed by their owner; team views by their owner or an
    Administrator."""

    serializer_class = SavedViewSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.saved_views_for(self.request.user)

    def _present(self, view: SavedView, status_code: int = 200) -> Response:
        data = SavedViewSerializer(
            self.get_queryset().get(pk=view.pk), context=self.get_serializer_context()
        ).data
        return Response(data, status=status_code)

    @extend_schema(request=SavedViewInput, responses={201: SavedViewSerializer})
    def create(self, request: Request) -> Response:
        body = SavedViewInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        view = service.saved_view_create(
            actor=request.user,
            name=data["name"],
            query=data.get("query") or {},
            columns=data.get("columns") or [],
            team=team_ref(data.get("team")),
        )
        return self._present(view, 201)

    @extend_schema(request=SavedViewPatchInput, responses=SavedViewSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        body = SavedViewPatchInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = with_unknown(request, body)  # other fields: refused by the service (400)
        if "team" in fields:
            fields["team"] = team_ref(fields["team"])
        view = service.saved_view_update(view=self.get_object(), actor=request.user, **fields)
        return self._present(view)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        service.saved_view_delete(view=self.get_object(), actor=request.user)
        return Response(status=204)
