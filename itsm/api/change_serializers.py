from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import ServiceRefSerializer, TeamRefSerializer, UserRefSerializer
from core.extensions import extension_fields, fields_for
from core.models import Service, Team
from core.validation import ensure_date_near
from core.visibility import parts_for
from itsm.models import (
    RISK_QUESTIONS,
    Change,
    ChangeType,
    FreezeWindow,
    Level,
    Outcome,
    Risk,
    StandardChangeTemplate,
)
from itsm.services.changes import conflicts_of, freeze_windows_hit

User = get_user_model()


class ChangeRefSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)

    class Meta:
        model = Change
        fields = ["id", "key", "title", "status", "planned_start", "planned_end"]


class CausedIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.IntegerField()


class ChangeSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    requested_by = UserRefSerializer(read_only=True)
    implementer = UserRefSerializer(read_only=True, allow_null=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    template = serializers.CharField(source="template.name", default=None, allow_null=True)
    freeze_override_by = UserRefSerializer(read_only=True, allow_null=True)
    conflicts = serializers.SerializerMethodField()
    freeze_windows = serializers.SerializerMethodField()
    risk = serializers.SerializerMethodField(
        help_text="The assessed risk level; null until the change is assessed."
    )
    risk_label = serializers.CharField(source="get_risk_display", read_only=True)
    caused_incidents = CausedIncidentSerializer(
        many=True, read_only=True, help_text="Incidents recorded as caused by this change."
    )

    class Meta:
        model = Change
        fields = [
            "id",
            "key",
            "type",
            "template",
            "title",
            "description",
            "reason",
            "status",
            "services",
            "impact",
            "risk",
            "risk_label",
            "risk_answers",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "outcome",
            "review_notes",
            "requested_by",
            "implementer",
            "team",
            "freeze_override_reason",
            "freeze_override_by",
            "conflicts",
            "freeze_windows",
            "caused_incidents",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_fields(self):  # type: ignore[no-untyped-def]
        # Fields other apps add (projects: the enhancements that deliver the change and the
        # releases that deploy it), documented in the schema; see core.extensions.
        return {**super().get_fields(), **extension_fields("change")}

    def to_representation(self, change: Change) -> dict:
        request = self.context.get("request")
        data = super().to_representation(change)
        if request is not None and not parts_for(request.user, change).linked_records:
            data.update(fields_for("change", change, linked_records=False))
            data["caused_incidents"] = []
        return data

    @extend_schema_field(
        serializers.ChoiceField(choices=[c for c in Risk.choices if c[0]], allow_null=True)
    )
    def get_risk(self, change: Change) -> str | None:
        return change.risk or None

    @extend_schema_field(ChangeRefSerializer(many=True))
    def get_conflicts(self, change: Change) -> list[dict]:
        # A list page computed them for all its rows at once (selectors.change_windows).
        found = getattr(change, "window_conflicts", None)
        if found is None:
            found = conflicts_of(change)
        return ChangeRefSerializer(found, many=True).data  # type: ignore[return-value]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_freeze_windows(self, change: Change) -> list[str]:
        if not (change.planned_start and change.planned_end):
            return []
        found = getattr(change, "window_freezes", None)
        if found is None:
            found = freeze_windows_hit(change, change.planned_start, change.planned_end)
        return [str(f) for f in found]


class ChangeCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ChangeType.choices, default=ChangeType.NORMAL)
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    services = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), many=True, required=False
    )
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    implementation_plan = serializers.CharField(required=False, allow_blank=True, default="")
    backout_plan = serializers.CharField(required=False, allow_blank=True, default="")
    test_plan = serializers.CharField(required=False, allow_blank=True, default="")
    planned_start = serializers.DateTimeField(required=False, allow_null=True)
    planned_end = serializers.DateTimeField(required=False, allow_null=True)
    implementer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class ChangeUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True)
    services = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), many=True, required=False
    )
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    implementation_plan = serializers.CharField(required=False, allow_blank=True)
    backout_plan = serializers.CharField(required=False, allow_blank=True)
    test_plan = serializers.CharField(required=False, allow_blank=True)
    planned_start = serializers.DateTimeField(required=False, allow_null=True)
    planned_end = serializers.DateTimeField(required=False, allow_null=True)
    implementer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )


class _Comment(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


def _risk_fields() -> dict[str, serializers.Field]:
    return {
        key: serializers.BooleanField(required=False, default=False, label=question)
        for key, question, _ in RISK_QUESTIONS
    }


class RiskAnswersSerializer(serializers.Serializer):
    def get_fields(self):  # type: ignore[no-untyped-def]
        return _risk_fields()


class AssessInput(_Comment):
    risk_answers = RiskAnswersSerializer()
    impact = serializers.ChoiceField(choices=Level.choices, required=False)


class RequestApprovalInput(_Comment):
    approvers = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        many=True,
        required=False,
        default=list,
        label="CAB members",
        help_text="CAB members who must each approve. With no member and no group named, "
        "any Change Manager approves.",
    )
    groups = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(),
        many=True,
        required=False,
        default=list,
        label="CAB groups",
        help_text="Groups any one of whose members approves for the group.",
    )


class ScheduleInput(_Comment):
    planned_start = serializers.DateTimeField(required=False)
    planned_end = serializers.DateTimeField(required=False)
    freeze_override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Emergency changes only: why it must go in during a freeze.",
    )


class CompleteInput(_Comment):
    outcome = serializers.ChoiceField(
        choices=[(Outcome.SUCCESSFUL, "Successful"), (Outcome.PARTIAL, "Successful with issues")],
        default=Outcome.SUCCESSFUL,
    )


class FailInput(serializers.Serializer):
    comment = serializers.CharField(help_text="What failed and how it was backed out.")


class CloseInput(_Comment):
    review_notes = serializers.CharField(help_text="The post-implementation review.")


CHANGE_TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "submit": _Comment,
    "assess": AssessInput,
    "request_approval": RequestApprovalInput,
    "schedule": ScheduleInput,
    "implement": _Comment,
    "complete": CompleteInput,
    "fail": FailInput,
    "close": CloseInput,
    "cancel": _Comment,
}


class FreezeWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = FreezeWindow
        fields = ["id", "name", "start", "end", "services", "reason"]

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": "A freeze ends after it starts."})
        # A freeze in 1753 is a typo (and, answered in local time, carries the zone's
        # seconds-wide mean-time offset, which no client parses as a date-time).
        ensure_date_near(attrs.get("start"), "start")
        ensure_date_near(attrs.get("end"), "end")
        return attrs


class StandardChangeTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = StandardChangeTemplate
        fields = [
            "id",
            "name",
            "description",
            "services",
            "implementation_plan",
            "backout_plan",
            "test_plan",
        ]


class LinkIncidentInput(serializers.Serializer):
    incident = serializers.CharField(help_text="Incident id or key caused by this change.")
