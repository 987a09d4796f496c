from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import ServiceRefSerializer, TeamRefSerializer, UserRefSerializer
from core.exceptions import ValidationFailed
from core.ids import parse_id
from itsm.models import Change
from projects.models import (
    Iteration,
    IterationStatus,
    Kind,
    Label,
    Project,
    Release,
    Severity,
    WorkItem,
)
from sla.api.serializers import ClockSerializer

User = get_user_model()


class ActiveProjectField(serializers.SlugRelatedField):
    """A project by its code, for what creates something in it: an archived project is
    refused with its reason (it takes no new work items, releases or iterations)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("queryset", Project.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        project = super().to_internal_value(data)
        if project.archived_at is not None:
            raise serializers.ValidationError(
                f"{project.code} is archived: it takes no new work items, releases or iterations."
            )
        return project


class ProjectSerializer(serializers.ModelSerializer):
    team = TeamRefSerializer(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    project_manager = UserRefSerializer(read_only=True, allow_null=True)
    calendar = serializers.CharField(
        source="calendar.name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The team's working days (release slips count in them); null: Mon–Fri.",
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "code",
            "name",
            "description",
            "team",
            "services",
            "project_manager",
            "calendar",
            "review_scope",
            "wip_limits",
            "archived_at",
        ]


class ReleaseRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "version", "name", "status", "planned_date"]


class ReleaseSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.code")
    slip_days = serializers.IntegerField(read_only=True)
    change = serializers.SerializerMethodField()
    uat_signed_off_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "project",
            "version",
            "name",
            "status",
            "planned_date",
            "original_planned_date",
            "slip_days",
            "description",
            "change",
            "notes",
            "uat_signed_off_by",
            "uat_signed_off_at",
            "went_live_at",
            "rolled_back_at",
            "go_live_record",
        ]
        read_only_fields = ["rolled_back_at", "go_live_record"]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_change(self, release: Release) -> dict | None:
        """The deploying change with its approved window and risk (go-live must fall
        inside the window)."""
        c = release.change
        if c is None:
            return None
        return {
            "id": c.pk,
            "key": c.key,
            "status": c.status,
            "planned_start": c.planned_start,
            "planned_end": c.planned_end,
            "risk": c.risk,
        }


class ReleaseCreateSerializer(serializers.Serializer):
    project = ActiveProjectField()
    version = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    planned_date = serializers.DateField(required=False, allow_null=True)
    change = serializers.PrimaryKeyRelatedField(
        queryset=Change.objects.all(),
        required=False,
        allow_null=True,
        label="Deploying change",
        help_text="The change that deploys it (an open change on the project's services).",
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    notes = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        label="Notes intro",
        help_text="Highlights for the release notes.",
    )


class ReleaseUpdateSerializer(serializers.Serializer):
    """What a release edit may change (every field optional). Status, go-live and
    rollback times, UAT sign-off and the slip are the lifecycle's: naming them is a 400."""

    version = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    planned_date = serializers.DateField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True)
    change = serializers.PrimaryKeyRelatedField(
        queryset=Change.objects.all(),
        required=False,
        allow_null=True,
        label="Deploying change",
        help_text="The change that deploys it (while the release is not live).",
    )
    notes = serializers.CharField(
        required=False,
        allow_blank=True,
        label="Notes intro",
        help_text="Highlights for the release notes.",
    )


class DeployingChangeInput(serializers.Serializer):
    change = serializers.SlugRelatedField(
        slug_field="number",
        queryset=Change.objects.all(),
        help_text="The change that deploys the release, by its number (1005 for CHG-1005).",
    )

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        # "CHG-1005" as the pages write it, or 1005
        if hasattr(data, "get") and isinstance(data.get("change"), str):
            data = {**data, "change": data["change"].upper().removeprefix("CHG-")}
        return super().to_internal_value(data)


class IncidentLinkSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.IntegerField()


class IterationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Iteration
        fields = ["id", "name", "status", "start", "end"]


class WorkItemSlaIncidentSerializer(serializers.Serializer):
    key = serializers.CharField(source="incident.key")
    title = serializers.CharField(source="incident.title")
    status = serializers.CharField(source="incident.status")
    priority = serializers.IntegerField(source="incident.priority")
    team = serializers.CharField(source="incident.team.name", allow_null=True, default=None)
    is_open = serializers.BooleanField()
    next_due = serializers.DateTimeField(
        allow_null=True, help_text="The earliest due moment of its ticking clocks."
    )
    clocks = ClockSerializer(many=True)


class WorkItemSlaSerializer(serializers.Serializer):
    """A work item's SLA is its incidents' (it has no clocks of its own)."""

    key = serializers.CharField()
    earliest_due = serializers.DateTimeField(
        allow_null=True,
        help_text="The earliest due moment among its open incidents' ticking clocks: the "
        "backlog's order. Null when no open incident has a ticking clock.",
    )
    breached = serializers.BooleanField(help_text="An open incident has missed a target.")
    incidents = WorkItemSlaIncidentSerializer(many=True)


@extend_schema_field(OpenApiTypes.STR)
class WorkItemKeyField(serializers.Field):
    """A work item named by its key (``ENH-12``); null clears it. An unknown key is a 400
    naming it. (Work items are readable by all staff, who alone reach this API.)"""

    default_error_messages = {"unknown": "No work item {ref}.", "invalid": "A key like DEF-12."}

    def to_internal_value(self, data: Any) -> WorkItem:
        key = str(data).strip().upper()
        prefix, _, digits = key.partition("-")
        kinds = {v: k for k, v in WorkItem.PREFIXES.items()}
        # 18 digits at most: a longer number overflows the database's bigint (a 500)
        number = parse_id(digits)
        if prefix not in kinds or number is None:
            self.fail("invalid")
        item = (
            WorkItem.objects.select_related("project")
            .filter(kind=kinds[prefix], number=number)
            .first()
        )
        if item is None:
            self.fail("unknown", ref=key)
        return item

    def to_representation(self, value: WorkItem) -> str:
        return value.key


@extend_schema_field(OpenApiTypes.STR)
class WorkItemRefField(WorkItemKeyField):
    """A work item by key (``DEF-12``) or, as before, by id: a page asks for the key in a
    text box instead of listing every item of a 10 000-item project in a select."""

    def to_internal_value(self, data: Any) -> WorkItem:
        pk = parse_id(data)
        if pk is not None:
            item = WorkItem.objects.select_related("project").filter(pk=pk).first()
            if item is None:
                self.fail("unknown", ref=data)
            return item
        return super().to_internal_value(data)


class LabelNamesField(serializers.ListField):
    """Label names: free-form, normalised (trimmed, lowercase, hyphens for spaces) and
    created on first use; at most ``Label.MAX_PER_ITEM`` on an item."""

    child = serializers.CharField(max_length=120)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", Label.MAX_PER_ITEM)
        super().__init__(**kwargs)
        self.error_messages["max_length"] = f"A work item has at most {Label.MAX_PER_ITEM} labels."


class WorkItemSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    project = serializers.CharField(source="project.code")
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    reported_by = UserRefSerializer(read_only=True)
    target_release = ReleaseRefSerializer(read_only=True, allow_null=True)
    fixed_in_release = ReleaseRefSerializer(read_only=True, allow_null=True)
    iteration = IterationRefSerializer(read_only=True, allow_null=True)
    incident_count = serializers.IntegerField(read_only=True)
    open_incident_count = serializers.IntegerField(read_only=True)
    affected_requesters = serializers.IntegerField(read_only=True)
    earliest_due = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Earliest SLA due among open incidents."
    )
    incidents = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField(
        help_text="Its incidents' SLA (it has no clocks of its own): the earliest due moment "
        "among its open incidents' ticking clocks, whether one has breached, and each "
        "incident's clocks, as /sla/ and the page show them."
    )
    labels = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    components = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    parent = serializers.SerializerMethodField(help_text="The parent's key (epic or story).")
    children = serializers.SerializerMethodField(help_text="The keys of its children.")

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "key",
            "kind",
            "project",
            "title",
            "description",
            "status",
            "priority",
            "severity",
            "assignee",
            "reported_by",
            "estimate_hours",
            "target_release",
            "fixed_in_release",
            "iteration",
            "incident_count",
            "open_incident_count",
            "affected_requesters",
            "earliest_due",
            "incidents",
            "changes",
            "sla",
            "labels",
            "components",
            "parent",
            "children",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_parent(self, item: WorkItem) -> str | None:
        return item.parent.key if item.parent_id else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_children(self, item: WorkItem) -> list[str]:
        return [c.key for c in item.children.all()]

    @extend_schema_field(WorkItemSlaSerializer())
    def get_sla(self, item: WorkItem) -> dict:
        from projects.selectors import work_item_sla

        return WorkItemSlaSerializer(work_item_sla(item)).data  # type: ignore[return-value]

    @extend_schema_field(IncidentLinkSerializer(many=True))
    def get_incidents(self, item: WorkItem) -> list[dict]:
        return [
            {"key": i.key, "title": i.title, "status": i.status, "priority": i.priority}
            for i in item.incidents.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_changes(self, item: WorkItem) -> list[str]:
        return [c.key for c in item.changes.all()]


class WorkItemCreateSerializer(serializers.Serializer):
    project = ActiveProjectField()
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    priority = serializers.IntegerField(min_value=1, max_value=5, default=3)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MAJOR)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    estimate_hours = serializers.DecimalField(
        max_digits=7, decimal_places=1, required=False, allow_null=True, min_value=0
    )
    target_release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(), required=False, allow_null=True
    )
    labels = LabelNamesField(required=False)
    components = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        help_text="Names of the project's components.",
    )
    parent = WorkItemKeyField(
        required=False, allow_null=True, help_text="The parent's key (same project)."
    )


class WorkItemUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    estimate_hours = serializers.DecimalField(
        max_digits=7, decimal_places=1, required=False, allow_null=True, min_value=0
    )
    target_release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(), required=False, allow_null=True
    )
    labels = LabelNamesField(
        required=False, help_text='Label names, e.g. ["login", "ui"]: replaces the list.'
    )
    components = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        help_text="Names of the project's components: replaces the list.",
    )
    parent = WorkItemKeyField(
        required=False, allow_null=True, help_text="The parent's key (same project); null: none."
    )


class WorkItemPatchSerializer(WorkItemUpdateSerializer):
    """The API's edit: the fields of ``WorkItemUpdateSerializer`` and the iteration it is
    planned into (planning rules: ``projects.iterations.work_item_plan``)."""

    iteration = serializers.PrimaryKeyRelatedField(
        queryset=Iteration.objects.all(),
        required=False,
        allow_null=True,
        help_text="A planned or active iteration of the item's project; null: the backlog.",
    )


class IterationSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.code", read_only=True)
    item_count = serializers.SerializerMethodField()

    class Meta:
        model = Iteration
        fields = [
            "id",
            "project",
            "name",
            "goal",
            "start",
            "end",
            "status",
            "started_at",
            "closed_at",
            "committed_hours",
            "completed_hours",
            "item_count",
            "created_at",
        ]
        read_only_fields = fields

    def get_item_count(self, it: Iteration) -> int:
        return getattr(it, "item_count", 0)


class IterationCreateSerializer(serializers.Serializer):
    project = ActiveProjectField()
    name = serializers.CharField(max_length=80)
    goal = serializers.CharField(required=False, allow_blank=True, default="")
    start = serializers.DateField()
    end = serializers.DateField()


class IterationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    goal = serializers.CharField(required=False, allow_blank=True)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)


class IterationCloseInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    move_to = serializers.PrimaryKeyRelatedField(
        queryset=Iteration.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="A planned iteration of the project for the unfinished items; "
        "null: back to the backlog.",
    )


class MemberCapacitySerializer(serializers.Serializer):
    username = serializers.CharField()
    hours = serializers.FloatField(help_text="Working hours in the iteration.")
    support_share = serializers.FloatField(help_text="Reserved 3rd-line share (%).")
    support_hours = serializers.FloatField()
    net_hours = serializers.FloatField()


class IterationCapacitySerializer(serializers.Serializer):
    gross_hours = serializers.FloatField()
    support_hours = serializers.FloatField()
    net_hours = serializers.FloatField(help_text="The planned capacity: gross − support.")
    planned_hours = serializers.FloatField(help_text="The estimates of its items.")
    unestimated_items = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())
    members = MemberCapacitySerializer(many=True)


class BurndownDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    working_day = serializers.BooleanField()
    remaining_hours = serializers.FloatField(
        allow_null=True, help_text="Null for days still to come."
    )
    ideal_hours = serializers.FloatField()


class BurndownSerializer(serializers.Serializer):
    iteration = serializers.IntegerField()
    status = serializers.ChoiceField(choices=IterationStatus.choices)
    committed_hours = serializers.FloatField()
    days = BurndownDaySerializer(many=True)


class VelocitySerializer(serializers.Serializer):
    project = serializers.CharField()
    iterations = IterationSerializer(many=True)
    average_completed_hours = serializers.FloatField(allow_null=True)


class _Comment(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class _Required(serializers.Serializer):
    comment = serializers.CharField()


class TriageInput(_Comment):
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)
    target_release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(), required=False, allow_null=True
    )


class FixInput(_Comment):
    release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(),
        required=False,
        allow_null=True,
        help_text="The release that contains the fix (default: the target release).",
    )


class DuplicateInput(_Comment):
    duplicate_of = WorkItemRefField(help_text="The original: its key (DEF-12) or its id.")


WORK_TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "triage": TriageInput,
    "start": _Comment,
    "submit_review": _Comment,
    "rework": _Required,
    "fix": FixInput,
    "reopen": _Required,
    "close": _Comment,
    "wont_fix": _Required,
    "mark_duplicate": DuplicateInput,
}


class ToDevelopmentInput(serializers.Serializer):
    reason = serializers.CharField()
    defect = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Link this existing defect (DEF-…) instead.",
    )
    title = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MAJOR)
    project = ActiveProjectField(required=False, allow_null=True)


class LinkInput(serializers.Serializer):
    incident = serializers.CharField(required=False)
    change = serializers.CharField(required=False)
    problem = serializers.CharField(required=False, help_text="The problem this defect fixes.")


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.CharField()


class GateSerializer(serializers.Serializer):
    release = serializers.CharField()
    allowed = serializers.BooleanField()
    checks = CheckSerializer(many=True)


class NoteItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()


class ReleaseNotesSerializer(serializers.Serializer):
    features = NoteItemSerializer(many=True)
    fixes = NoteItemSerializer(many=True)
    known_issues = NoteItemSerializer(many=True)


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField()


class GoLiveInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    outside_window_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="A Change Manager's reason to go live outside the deploying change's "
        "approved window (recorded with the gate evaluation).",
    )


class MoveOutInput(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, help_text="DEF-… / ENH-… keys."
    )
    reason = serializers.CharField(help_text="Why the release ships without them.")
    to_release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Another open release of the project; empty: back to the backlog.",
    )


class EmergencyDecisionSerializer(serializers.ModelSerializer):
    change = serializers.CharField(source="change.key", read_only=True)
    release = ReleaseRefSerializer(read_only=True)
    change_manager = UserRefSerializer(read_only=True)
    project_manager = UserRefSerializer(read_only=True)
    developer = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        from projects.models import EmergencyDecision

        model = EmergencyDecision
        fields = [
            "id",
            "change",
            "release",
            "change_manager",
            "project_manager",
            "developer",
            "slip_days",
            "planned_date_before",
            "planned_date_after",
            "note",
            "status",
            "pm_decided_at",
            "pm_comment",
            "created_at",
        ]
        read_only_fields = fields


class EmergencyDecisionCreateSerializer(serializers.Serializer):
    change = serializers.CharField(help_text="The emergency change, CHG-….")
    release = serializers.PrimaryKeyRelatedField(queryset=Release.objects.all())
    project_manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True)
    )
    developer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="The developer taken off the project for it.",
    )
    slip_days = serializers.IntegerField(
        min_value=0, max_value=365, help_text="Working days (of the project's calendar)."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def record(self, *, actor: Any) -> Any:
        """Record the validated decision (the API and the change page both come here):
        the change and the release as ``actor`` may see them, then the service."""
        from itsm import selectors as itsm_selectors
        from projects import selectors, services

        data = dict(self.validated_data)
        change = itsm_selectors.change_get(actor, data.pop("change"))
        release = selectors.release_list(actor).filter(pk=data.pop("release").pk).first()
        if release is None:
            raise ValidationFailed("No such release.", field="release")
        return services.emergency_decision_record(
            actor=actor, change=change, release=release, **data
        )


__all__ = ["Kind"]


# --- what the change resource says of the development side (projects.bridge) -------------
class ChangeEnhancementSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    target_release = serializers.CharField(
        allow_null=True, help_text="The release it is fixed in, or else planned for."
    )
    estimate_hours = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    logged_hours = serializers.DecimalField(
        max_digits=9, decimal_places=2, help_text="Project time logged on it."
    )


class ChangeDeliverySerializer(serializers.Serializer):
    done_percent = serializers.IntegerField(
        allow_null=True,
        help_text="The share done: done estimate over total estimate of the estimated "
        "enhancements, or done count over count when none is estimated; null without any.",
    )
    basis = serializers.ChoiceField(choices=["estimate", "count"], allow_null=True)
    done = serializers.IntegerField()
    count = serializers.IntegerField()
    estimate_hours = serializers.DecimalField(max_digits=9, decimal_places=1)
    logged_hours = serializers.DecimalField(max_digits=9, decimal_places=2)


class ChangeReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    planned_date = serializers.DateField(allow_null=True)
    went_live_at = serializers.DateTimeField(allow_null=True)


class HypercareRouteSerializer(serializers.Serializer):
    release = serializers.CharField()
    release_id = serializers.IntegerField()
    team = serializers.CharField(help_text="The release's team, whose queue holds it too.")
    team_id = serializers.IntegerField()
