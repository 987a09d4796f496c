from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import ServiceRefSerializer, TeamRefSerializer, UserRefSerializer
from core.extensions import extension_fields, fields_for
from core.models import Service, Team, Tier
from core.visibility import EVERYTHING, parts_for
from itsm.models import Category, HoldReason, Incident, Level, ResolutionCode
from itsm.status import requester_status_line
from sla.api.serializers import ClockSerializer, clocks_data
from sla.selectors import ticket_clocks

User = get_user_model()


class ProblemRefSerializer(serializers.Serializer):
    """The problem behind an incident, with its workaround once published: the incident
    shows the problem's text, it never holds a copy. A requester gets the workaround and
    the state, not the problem's id, key or title (null)."""

    id = serializers.IntegerField(allow_null=True)
    key = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    workaround = serializers.SerializerMethodField()

    def get_workaround(self, problem) -> str | None:  # type: ignore[no-untyped-def]
        return problem.workaround if problem.workaround_published else None


class CausedByChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()


class IncidentSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    service = ServiceRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    requester = UserRefSerializer(read_only=True)
    sla = serializers.SerializerMethodField()
    problem = ProblemRefSerializer(read_only=True, allow_null=True)
    status_line = serializers.SerializerMethodField(
        help_text="Where the incident stands, in one sentence for its requester (as the page)."
    )
    tier = serializers.ChoiceField(
        choices=Tier.choices,
        read_only=True,
        allow_null=True,
        help_text="The support tier holding it; null for requesters (how support organises "
        "itself is not theirs to read).",
    )
    caused_by = CausedByChangeSerializer(
        source="caused_by_change",
        read_only=True,
        allow_null=True,
        help_text="The change recorded as its cause; null for readers who may not see "
        "linked internal records.",
    )

    class Meta:
        model = Incident
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
            "requester",
            "tier",
            "major_incident",
            "hold_reason",
            "resolution_code",
            "resolution_notes",
            "reopen_count",
            "created_at",
            "updated_at",
            "responded_at",
            "resolved_at",
            "closed_at",
            "problem",
            "caused_by",
            "sla",
            "status_line",
        ]
        read_only_fields = fields

    def get_fields(self):  # type: ignore[no-untyped-def]
        # Fields other apps add that document their schema (core.extensions).
        return {**super().get_fields(), **extension_fields("incident")}

    def to_representation(self, incident: Incident) -> dict:
        # Fields other apps add (projects: the linked defect), see core.extensions; linked
        # internal records as the reader's visibility policy allows (core.visibility).
        request = self.context.get("request")
        parts = parts_for(request.user, incident) if request is not None else EVERYTHING
        data = super().to_representation(incident)
        if not parts.linked_records and data["problem"] is not None:
            data["problem"] = {**data["problem"], "id": None, "key": None, "title": None}
        if not parts.linked_records:
            data["caused_by"] = None
        if not parts.routing:
            # The requester's page never shows how support tiers its work (the team's tier
            # goes the same way: core.api.serializers.TeamRefSerializer).
            data["tier"] = None
        extra = fields_for("incident", incident, linked_records=parts.linked_records)
        return {**data, **extra}

    def get_status_line(self, incident: Incident) -> str:
        return requester_status_line(incident)

    @extend_schema_field(ClockSerializer(many=True))
    def get_sla(self, incident: Incident) -> list[dict]:
        # A list's rows share one "now" and the calendars' specs for the whole page.
        page = getattr(self, "_clock_page", None)
        if page is None:
            page = self._clock_page = (timezone.now(), {})
        now, specs = page
        return clocks_data(ticket_clocks(incident, now, specs=specs))


class IncidentCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.filter(is_active=True))
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    urgency = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.SOFTWARE)
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Staff only: raise on behalf of this user.",
    )
    major_incident = serializers.BooleanField(default=False)


class IncidentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), required=False
    )
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    major_incident = serializers.BooleanField(required=False)


# --- transition bodies --------------------------------------------------------------------
class _CommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AssignInput(_CommentInput):
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if not attrs.get("team") and not attrs.get("assignee"):
            raise serializers.ValidationError({"team": "Give a team, an assignee or both."})
        return attrs


class HoldInput(_CommentInput):
    reason = serializers.ChoiceField(choices=HoldReason.choices)


class EscalateInput(serializers.Serializer):
    reason = serializers.CharField()
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    tier = serializers.IntegerField(
        min_value=2,
        max_value=3,
        required=False,
        allow_null=True,
        help_text="Skip a tier: 3 sends it straight to development.",
    )


class ResolveInput(_CommentInput):
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices)
    resolution_notes = serializers.CharField()


class ReopenInput(serializers.Serializer):
    reason = serializers.CharField()


TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "assign": AssignInput,
    "start": _CommentInput,
    "hold": HoldInput,
    "resume": _CommentInput,
    "escalate": EscalateInput,
    "resolve": ResolveInput,
    "reopen": ReopenInput,
    "close": _CommentInput,
    "cancel": _CommentInput,
}
