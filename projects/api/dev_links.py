"""Development links in the API: a work item's commits, branches and pull requests
(``/defects|enhancements/{key}/dev-links/``) and the pipeline's entry point
(``POST /dev-links/``) that links a URL to every item its title or branch names."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin
from core.api.serializers import UserRefSerializer
from core.exceptions import NotFound
from projects import selectors, services
from projects.models import DevLink, DevLinkKind, WorkItem


class DevLinkSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.key", read_only=True, help_text="DEF-… or ENH-…")
    kind = serializers.ChoiceField(choices=DevLinkKind.choices, read_only=True)
    added_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = DevLink
        fields = [
            "id",
            "item",
            "url",
            "kind",
            "title",
            "state",
            "added_by",
            "created_at",
            "updated_at",
        ]


class DevLinkInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=500, help_text="The http(s) address of a commit, branch or pull request."
    )
    title = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=300,
        help_text="Its title; work item keys in it (DEF-1011) link those items too.",
    )
    state = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=20,
        help_text="As the code host says it: open, merged, closed.",
    )


class DevLinkAddResult(serializers.Serializer):
    link = DevLinkSerializer()
    also_linked = serializers.ListField(
        child=serializers.CharField(), help_text="Other items named in the title or branch."
    )
    unknown_keys = serializers.ListField(child=serializers.CharField())
    refused_keys = serializers.ListField(
        child=serializers.CharField(), help_text="Items you may not work on: not linked."
    )


class DevLinksFromTitleResult(serializers.Serializer):
    linked = DevLinkSerializer(many=True)
    unknown_keys = serializers.ListField(child=serializers.CharField())
    refused_keys = serializers.ListField(child=serializers.CharField())


def _links_of(item: WorkItem) -> Any:
    return item.dev_links.select_related("added_by", "item")


class _ItemView(ApiContractMixin, APIView):
    kind: str = "defect"

    def item(self, request: Request, ref: str) -> WorkItem:
        return selectors.work_item_get(request.user, ref, self.kind)


class WorkItemDevLinksView(_ItemView):
    """``GET``: the item's development links. ``POST``: link a URL (the same URL again
    updates its title and state); other items whose keys the title or branch names get
    it too."""

    @extend_schema(responses=DevLinkSerializer(many=True))
    def get(self, request: Request, ref: str) -> Response:
        item = self.item(request, ref)
        return Response(DevLinkSerializer(_links_of(item), many=True).data)

    @extend_schema(request=DevLinkInput, responses={201: DevLinkAddResult})
    def post(self, request: Request, ref: str) -> Response:
        item = self.item(request, ref)
        body = DevLinkInput(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.dev_links_from_title(actor=request.user, item=item, **body.validated_data)
        own, others = result.links[0], result.links[1:]
        return Response(
            {
                "link": DevLinkSerializer(own).data,
                "also_linked": [link.item.key for link in others],
                "unknown_keys": result.unknown_keys,
                "refused_keys": result.refused_keys,
            },
            status=201,
        )


class WorkItemDevLinkView(_ItemView):
    """``DELETE``: remove one development link of the item."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, ref: str, link_id: int) -> Response:
        item = self.item(request, ref)
        link = item.dev_links.filter(pk=link_id).select_related("item").first()
        if link is None:
            raise NotFound(f"{item.key} has no development link {link_id}.")
        link.item = item  # with its project, for the permission check
        services.dev_link_remove(link=link, actor=request.user)
        return Response(status=204)


class DevLinksFromTitleView(ApiContractMixin, APIView):
    """For CI pipelines: link a commit, branch or pull request to every work item whose
    key (``DEF-1011``) is in its title or branch name. Answers which items it linked,
    which keys no item has, and which items the caller may not work on."""

    @extend_schema(
        request=DevLinkInput,
        responses={201: DevLinksFromTitleResult, 200: DevLinksFromTitleResult},
    )
    def post(self, request: Request) -> Response:
        body = DevLinkInput(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.dev_links_from_title(actor=request.user, **body.validated_data)
        return Response(
            {
                "linked": DevLinkSerializer(result.links, many=True).data,
                "unknown_keys": result.unknown_keys,
                "refused_keys": result.refused_keys,
            },
            status=201 if result.links else 200,
        )
