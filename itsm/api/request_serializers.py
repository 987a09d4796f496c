from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.api.serializers import ServiceRefSerializer, TeamRefSerializer, UserRefSerializer
from itsm.models import Approval, CatalogField, CatalogItem, FulfilmentTask, ServiceRequest
from sla.api.serializers import ClockSerializer, clocks_data
from sla.selectors import ticket_clocks

User = get_user_model()


class CatalogFieldSerializer(serializers.ModelSerializer):
    options = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = CatalogField
        fields = ["name", "label", "type", "required", "options", "help_text"]


class CatalogItemSerializer(serializers.ModelSerializer):
    service = ServiceRefSerializer(read_only=True)
    fulfilment_team = TeamRefSerializer(read_only=True)
    fields = CatalogFieldSerializer(many=True, read_only=True)
    approval_group = serializers.CharField(
        source="approval_group.name", allow_null=True, default=None
    )

    class Meta:
        model = CatalogItem
        fields = [
            "id",
            "name",
            "description",
            "service",
            "approval",
            "approval_group",
            "fulfilment_team",
            "fields",
        ]


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver_label")
    decided_by = UserRefSerializer(read_only=True, allow_null=True)
    ticket = serializers.SerializerMethodField()

    class Meta:
        model = Approval
        fields = [
            "id",
            "ticket",
            "reason",
            "approver",
            "decision",
            "comment",
            "decided_by",
            "decided_at",
            "created_at",
        ]

    def get_ticket(self, approval: Approval) -> dict:
        t = approval.ticket
        return {
            "type": approval.content_type.model,
            "id": t.pk,
            "key": t.key,
            "title": t.title,
            "url": t.get_absolute_url(),
        }


class DecideInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approved", "Approve"), ("rejected", "Reject")])
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class TaskSerializer(serializers.ModelSerializer):
    assignee = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FulfilmentTask
        fields = ["id", "title", "description", "order", "status", "assignee", "notes", "done_at"]


class TaskTransitionInput(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="RequestTicket")  # "ServiceRequest" is the Service body
class ServiceRequestSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    item = serializers.SerializerMethodField()
    requester = UserRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    tasks = TaskSerializer(many=True, read_only=True)
    sla = serializers.SerializerMethodField()

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "key",
            "item",
            "status",
            "requester",
            "answers",
            "team",
            "assignee",
            "priority",
            "tasks",
            "created_at",
            "updated_at",
            "approved_at",
            "fulfilled_at",
            "closed_at",
            "sla",
        ]
        read_only_fields = fields

    def get_item(self, req: ServiceRequest) -> dict:
        return {"id": req.item_id, "name": req.item.name, "service": req.item.service.name}

    @extend_schema_field(ClockSerializer(many=True))
    def get_sla(self, req: ServiceRequest) -> list[dict]:
        return clocks_data(ticket_clocks(req))


class RequestSubmitSerializer(serializers.Serializer):
    item = serializers.PrimaryKeyRelatedField(queryset=CatalogItem.objects.filter(is_active=True))
    answers = serializers.DictField(
        required=False, default=dict, help_text="The item's fields by name."
    )
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Staff only: order on behalf of this user.",
    )


class _Comment(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


REQUEST_TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "start_fulfilment": _Comment,
    "close": _Comment,
    "cancel": _Comment,
}
