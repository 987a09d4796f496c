from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import ServiceRefSerializer, TeamRefSerializer, UserRefSerializer
from core.extensions import fields_for
from core.models import Service, Team
from itsm.models import Category, Change, Incident, Level, Problem, ResolutionCode
from sla.api.serializers import ClockSerializer, clocks_data
from sla.selectors import ticket_clocks

User = get_user_model()


class IncidentRefSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "key", "title", "status", "priority"]


class ProblemSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    service = ServiceRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    created_by = UserRefSerializer(read_only=True)
    open_incidents = serializers.IntegerField(read_only=True)
    linked_incidents = serializers.IntegerField(read_only=True)
    sla = serializers.SerializerMethodField()
    fix_change = serializers.SerializerMethodField()

    class Meta:
        model = Problem
        fields = [
            "id",
            "key",
            "title",
            "description",
            "status",
            "priority",
            "impact",
            "urgency",
            "category",
            "service",
            "team",
            "assignee",
            "created_by",
            "root_cause",
            "workaround",
            "workaround_published_at",
            "fix_description",
            "fix_change",
            "resolution_notes",
            "open_incidents",
            "linked_incidents",
            "created_at",
            "updated_at",
            "known_error_at",
            "resolved_at",
            "closed_at",
            "sla",
        ]
        read_only_fields = fields

    def to_representation(self, problem: Problem) -> dict:
        # Fields other apps add (projects: the defects that fix it), see core.extensions.
        return {**super().to_representation(problem), **fields_for("problem", problem)}

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_fix_change(self, problem: Problem) -> dict | None:
        c = problem.fix_change
        return None if c is None else {"id": c.pk, "key": c.key, "status": c.status}

    @extend_schema_field(ClockSerializer(many=True))
    def get_sla(self, problem: Problem) -> list[dict]:
        return clocks_data(ticket_clocks(problem))


class IncidentKeysField(serializers.ListField):
    child = serializers.CharField()


class ProblemCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.filter(is_active=True))
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    urgency = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.SOFTWARE)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    incidents = IncidentKeysField(
        required=False, default=list, help_text="Incident ids or keys (INC-1042) to link at once."
    )


class ProblemUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), required=False
    )
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    root_cause = serializers.CharField(required=False, allow_blank=True)
    workaround = serializers.CharField(required=False, allow_blank=True)
    fix_description = serializers.CharField(required=False, allow_blank=True)
    fix_change = serializers.PrimaryKeyRelatedField(
        queryset=Change.objects.all(),
        required=False,
        allow_null=True,
        help_text="The change that delivers the permanent fix.",
    )


class LinkIncidentsInput(serializers.Serializer):
    incidents = IncidentKeysField(allow_empty=False)


class UnlinkIncidentInput(serializers.Serializer):
    incident = serializers.CharField(help_text="Incident id or key")


class PublishWorkaroundInput(serializers.Serializer):
    workaround = serializers.CharField(required=False, help_text="Replaces the text first.")


class ResolveIncidentsInput(serializers.Serializer):
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices, default="fixed")


class BulkResultSerializer(serializers.Serializer):
    resolved = serializers.ListField(child=serializers.CharField())
    skipped = serializers.DictField(child=serializers.CharField())


class RecurringGroupSerializer(serializers.Serializer):
    """A cluster of incidents of one service that describe the same thing."""

    service_id = serializers.IntegerField()
    service = serializers.CharField()
    category = serializers.CharField(help_text="The most common category among them.")
    count = serializers.IntegerField()
    keys = serializers.ListField(child=serializers.CharField(), help_text="Newest first, ≤ 50.")
    title = serializers.CharField(help_text="The title of the most typical incident.")
    terms = serializers.ListField(child=serializers.CharField(), help_text="Words most share.")
    similarity = serializers.IntegerField(help_text="How alike they are on average (%).")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


# --- transition bodies --------------------------------------------------------------------
class _Comment(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class InvestigateInput(_Comment):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class KnownErrorInput(_Comment):
    root_cause = serializers.CharField(required=False, allow_blank=True, default="")
    workaround = serializers.CharField(required=False, allow_blank=True, default="")


class ProblemResolveInput(_Comment):
    resolution_notes = serializers.CharField()
    fix_description = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField()


PROBLEM_TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "investigate": InvestigateInput,
    "mark_known_error": KnownErrorInput,
    "resolve": ProblemResolveInput,
    "reopen": ReasonInput,
    "close": _Comment,
    "cancel": ReasonInput,
}
