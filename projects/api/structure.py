"""The API of a work item's structure: links between work items
(``/api/v1/defects|enhancements/{key}/item-links/``) and a project's components
(``/api/v1/components/?project=CODE``). Writes go through projects.services.structure."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.contract import ApiContractMixin
from core.api.serializers import UserRefSerializer
from core.exceptions import NotFound, ValidationFailed
from projects import selectors
from projects.api.projects import with_unknown
from projects.api.serializers import WorkItemKeyField
from projects.models import Component, WorkItem, WorkItemLink, WorkItemLinkKind
from projects.services import structure

User = get_user_model()


class ItemLinkSerializer(serializers.Serializer):
    """A link as the item it is read from sees it: "DEF-1 is blocked by ENH-2"."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=WorkItemLinkKind.choices)
    direction = serializers.ChoiceField(
        choices=["outward", "inward"], help_text="outward: this item is the link's source."
    )
    phrase = serializers.CharField(help_text="blocks, is blocked by, relates to, ...")
    item = serializers.CharField(help_text="The other item's key.")
    title = serializers.CharField()
    status = serializers.CharField()
    project = serializers.CharField()
    created_at = serializers.DateTimeField()


class ItemLinkInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=structure.LINK_CHOICES,
        help_text="As read on this item: blocks, blocked_by, relates, duplicates, duplicated_by.",
    )
    target = WorkItemKeyField(help_text="The other item's key, e.g. ENH-12 (any project).")


def _link_rows(item: WorkItem) -> list[dict[str, Any]]:
    from projects.structure import item_structure

    return [
        {
            "id": r.link.pk,
            "kind": r.link.kind,
            "direction": "outward" if r.link.source_id == item.pk else "inward",
            "phrase": r.verb,
            "item": r.other.key,
            "title": r.other.title,
            "status": r.other.status,
            "project": r.other.project.code,
            "created_at": r.link.created_at,
        }
        for r in item_structure(item).links
    ]


class WorkItemStructureActions:
    """Mixed into the work item viewsets: ``item-links`` list, add and remove."""

    get_object: Any
    request: Any

    @extend_schema(methods=["GET"], request=None, responses=ItemLinkSerializer(many=True))
    @extend_schema(methods=["POST"], request=ItemLinkInput, responses={201: ItemLinkSerializer})
    @action(detail=True, methods=["get", "post"], url_path="item-links")
    def item_links(self, request: Request, pk: str | None = None) -> Response:
        """Links to other work items, both ways ("is blocked by" on the blocked one). POST
        ``{"kind": "blocks", "target": "ENH-12"}`` links this item to another (you must be
        able to work on this one; the other may be in any project)."""
        item = self.get_object()
        if request.method == "GET":
            return Response(ItemLinkSerializer(_link_rows(item), many=True).data)
        body = ItemLinkInput(data=request.data)
        body.is_valid(raise_exception=True)
        target = selectors.work_item_get(request.user, body.validated_data["target"].key)
        link = structure.work_item_link_add(
            item=item, other=target, kind=body.validated_data["kind"], actor=request.user
        )
        row = next(r for r in _link_rows(item) if r["id"] == link.pk)
        return Response(ItemLinkSerializer(row).data, status=201)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"item-links/(?P<link_id>[0-9]+)")
    def item_link_remove(
        self, request: Request, pk: str | None = None, link_id: str = ""
    ) -> Response:
        """Remove one of this item's links (either direction)."""
        item = self.get_object()
        link = WorkItemLink.objects.filter(Q(source=item) | Q(target=item), pk=int(link_id)).first()
        if link is None:
            raise NotFound(f"{item.key} has no link {link_id}.")
        structure.work_item_link_remove(link=link, actor=request.user)
        return Response(status=204)


# --- components -----------------------------------------------------------------------------


class ComponentSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.code", read_only=True)
    lead = UserRefSerializer(read_only=True, allow_null=True)
    item_count = serializers.IntegerField(read_only=True, help_text="Work items that carry it.")

    class Meta:
        model = Component
        fields = ["id", "project", "name", "description", "lead", "item_count"]


class ComponentInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class ComponentCreateInput(ComponentInput):
    project = serializers.CharField(help_text="The project's code.")


class ComponentPatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class ComponentFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__code")

    class Meta:
        model = Component
        fields = ["project"]


def component_list(user: Any) -> Any:
    from django.db.models import Count

    projects = selectors.project_list(user)
    return (
        Component.objects.filter(project__in=projects.values("pk"))
        .select_related("project", "lead")
        .annotate(item_count=Count("items"))
        .order_by("project__code", "name")
    )


class ComponentViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A project's components (``?project=CODE``). The Project Manager and the team lead
    create, rename and remove them; a component a work item carries is not removed (409)."""

    serializer_class = ComponentSerializer
    filterset_class = ComponentFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return component_list(self.request.user)

    def _present(self, component: Component, status_code: int = 200) -> Response:
        return Response(
            ComponentSerializer(self.get_queryset().get(pk=component.pk)).data, status=status_code
        )

    @extend_schema(request=ComponentCreateInput, responses={201: ComponentSerializer})
    def create(self, request: Request) -> Response:
        body = ComponentCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        code = data.pop("project")
        project = selectors.project_list(request.user).filter(code=code).first()
        if project is None:
            raise ValidationFailed(f"No project {code}.", field="project")
        component = structure.component_create(project=project, actor=request.user, **data)
        return self._present(component, 201)

    @extend_schema(request=ComponentPatchInput, responses=ComponentSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        body = ComponentPatchInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        component = structure.component_update(
            component=self.get_object(), actor=request.user, **with_unknown(request, body)
        )
        return self._present(component)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        structure.component_delete(component=self.get_object(), actor=request.user)
        return Response(status=204)
