from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin
from core.api.export import CsvExportMixin
from core.api.schema import paginated
from core.api.serializers import AuditEventSerializer
from core.exceptions import NotFound, ValidationFailed
from core.ids import parse_key_number
from core.roles import is_staff_member
from core.visibility import parts_for
from itsm import selectors as itsm_selectors
from itsm.api.tickets import TicketViewSet
from projects import selectors, services
from projects.api.serializers import (
    WORK_TRANSITION_INPUTS,
    BurndownSerializer,
    CommentInput,
    DeployingChangeInput,
    EmergencyDecisionCreateSerializer,
    EmergencyDecisionSerializer,
    GateSerializer,
    GoLiveInput,
    IterationCapacitySerializer,
    IterationCloseInput,
    IterationCreateSerializer,
    IterationSerializer,
    IterationUpdateSerializer,
    LinkInput,
    MoveOutInput,
    ReasonInput,
    ReleaseCreateSerializer,
    ReleaseNotesSerializer,
    ReleaseSerializer,
    ReleaseUpdateSerializer,
    ToDevelopmentInput,
    VelocitySerializer,
    WorkItemCreateSerializer,
    WorkItemPatchSerializer,
    WorkItemSerializer,
    WorkItemSlaSerializer,
)
from projects.api.structure import WorkItemStructureActions
from projects.exports import WORK_ITEM_COLUMNS
from projects.models import (
    EmergencyDecision,
    EmergencyDecisionStatus,
    Iteration,
    IterationStatus,
    Kind,
    Release,
    ReleaseStatus,
    TimeEntry,
    WorkItem,
    WorkItemStatus,
)
from projects.permissions import ensure_can_fire_work


# --- the shapes of the custom answers below (documented as they answer, issue 14) -------
class SuspectIncidentSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    priority = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class IncidentRateDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    offset = serializers.IntegerField()
    count = serializers.IntegerField()


class ReleaseSuspectsSerializer(serializers.Serializer):
    incidents = SuspectIncidentSerializer(many=True)
    rate = IncidentRateDaySerializer(many=True)


class IncidentSuspectSerializer(serializers.Serializer):
    change = serializers.CharField()
    title = serializers.CharField()
    release = serializers.CharField(allow_null=True)
    went_live = serializers.DateTimeField()
    hours_before = serializers.FloatField()
    score = serializers.FloatField()
    withdrawn = serializers.CharField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)


class PersonWeekSerializer(serializers.Serializer):
    username = serializers.CharField()
    share = serializers.FloatField()
    reserved_hours = serializers.FloatField()
    support_hours = serializers.FloatField()
    project_hours = serializers.FloatField()
    teams = serializers.IntegerField()
    reserved_total_hours = serializers.FloatField()
    other_teams_support_hours = serializers.FloatField()
    other_teams_project_hours = serializers.FloatField()
    warnings = serializers.ListField(child=serializers.CharField())


class TeamCapacitySerializer(serializers.Serializer):
    team = serializers.CharField()
    week = serializers.CharField()
    week_hours = serializers.FloatField()
    waiting_incidents = serializers.IntegerField()
    people = PersonWeekSerializer(many=True)


class ReleaseFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)
    project = django_filters.CharFilter(field_name="project__code")

    class Meta:
        model = Release
        fields = ["status", "project"]


class ReleaseViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.release_list(self.request.user).order_by("-planned_date", "-id")

    @extend_schema(request=ReleaseCreateSerializer, responses={201: ReleaseSerializer})
    def create(self, request: Request) -> Response:
        body = ReleaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = services.release_create(actor=request.user, **body.validated_data)
        return Response(ReleaseSerializer(release).data, status=201)

    @extend_schema(request=ReleaseUpdateSerializer, responses=ReleaseSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Edit version, name, planned date, description, deploying change and notes
        intro (Release Managers, the project's managers and team lead). Lifecycle fields
        are a 400; once live, rolled back or cancelled only the text changes."""
        from projects.api.projects import with_unknown

        body = ReleaseUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.release_update(
            release=self.get_object(), actor=request.user, **with_unknown(request, body)
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @paginated
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The release's audit trail: transitions, UAT sign-off, emergency decisions."""
        release = self.get_object()
        parts = parts_for(request.user, release)
        page = self.paginate_queryset(parts.history(release))
        data = AuditEventSerializer(page, many=True, context={"parts": parts}).data
        return self.get_paginated_response(data)

    @extend_schema(request=DeployingChangeInput, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path="change")
    def deploying_change(self, request: Request, pk: str | None = None) -> Response:
        """Name or replace the change that deploys the release (before it goes live)."""
        body = DeployingChangeInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_set_change(
            release=self.get_object(), actor=request.user, change=body.validated_data["change"]
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(responses=GateSerializer)
    @action(detail=True, methods=["get"], url_path="gate")
    def gate(self, request: Request, pk: str | None = None) -> Response:
        """May it go live now? Each check with its reason; the answer is kept for audit."""
        from projects.gate import gate_evaluate

        release = self.get_object()
        allowed, checks = gate_evaluate(release, request.user, "query")
        return Response(
            {"release": str(release), "allowed": allowed, "checks": [c.__dict__ for c in checks]}
        )

    @extend_schema(request=CommentInput, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path="sign-off-uat")
    def sign_off_uat(self, request: Request, pk: str | None = None) -> Response:
        services.release_sign_off_uat(
            release=self.get_object(),
            actor=request.user,
            comment=str(request.data.get("comment", "")),
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=GoLiveInput, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path="go-live")
    def go_live(self, request: Request, pk: str | None = None) -> Response:
        """Go live through the gate (409 naming each failing check). Outside the deploying
        change's approved window only with a Change Manager's ``outside_window_reason``."""
        body = GoLiveInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_go_live(
            release=self.get_object(), actor=request.user, **body.validated_data
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=MoveOutInput, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path="move-out")
    def move_out(self, request: Request, pk: str | None = None) -> Response:
        """The recorded decision to ship without unfinished items: they leave the release
        (for ``to_release`` or the backlog), so the gate's items check can pass."""
        release = self.get_object()
        body = MoveOutInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        items = [selectors.work_item_get(request.user, key) for key in data["items"]]
        services.release_move_out_items(
            release=release,
            actor=request.user,
            items=items,
            reason=data["reason"],
            to_release=data["to_release"],
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=release.pk)).data)

    @extend_schema(request=ReasonInput, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path="roll-back")
    def roll_back(self, request: Request, pk: str | None = None) -> Response:
        body = ReasonInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_roll_back(
            release=self.get_object(), actor=request.user, **body.validated_data
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(responses=ReleaseSuspectsSerializer)
    @action(detail=True, methods=["get"], url_path="suspects")
    def suspects(self, request: Request, pk: str | None = None) -> Response:
        """Incidents on its services since go-live (the hypercare window) and the daily
        incident rate a week either side."""
        from projects.suspects import incident_rate, release_suspect_incidents

        release = self.get_object()
        return Response(
            {
                "incidents": [
                    {
                        "key": i.key,
                        "title": i.title,
                        "priority": i.priority,
                        "status": i.status,
                        "created_at": i.created_at,
                    }
                    for i in release_suspect_incidents(release)
                ],
                "rate": [
                    {"day": r["day"], "offset": r["offset"], "count": r["count"]}
                    for r in incident_rate(release)
                ],
            }
        )

    @extend_schema(responses=ReleaseNotesSerializer)
    @action(detail=True, methods=["get"], url_path="notes")
    def notes(self, request: Request, pk: str | None = None) -> Response:
        """The release notes: new and changed, fixed, known issues."""
        release = self.get_object()
        notes = services.release_notes(release)
        return Response(
            {
                k: [{"key": i.key, "title": i.title, "status": i.status} for i in v]
                for k, v in notes.items()
            }
        )

    @extend_schema(request=None, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def fire(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """start_development, start_testing, ready, cancel (go-live has its gate)."""
        release = self.get_object()
        services.release_transition(
            release=release,
            actor=request.user,
            name=name,
            comment=str(request.data.get("comment", "")),
        )
        return Response(ReleaseSerializer(self.get_queryset().get(pk=release.pk)).data)


def _record_emergency_decision(request: Request, payload: Any) -> Response:
    body = EmergencyDecisionCreateSerializer(data=payload)
    body.is_valid(raise_exception=True)
    decision = body.record(actor=request.user)
    row = selectors.emergency_decisions(request.user).get(pk=decision.pk)
    return Response(EmergencyDecisionSerializer(row).data, status=201)


class EmergencyDecisionFilter(django_filters.FilterSet):
    change = django_filters.CharFilter(method="by_change", help_text="CHG-…")
    status = django_filters.MultipleChoiceFilter(choices=EmergencyDecisionStatus.choices)

    class Meta:
        model = EmergencyDecision
        fields = ["change", "release", "status", "project_manager"]

    def by_change(self, qs, name, value):  # type: ignore[no-untyped-def]
        number = parse_key_number(value, "CHG")
        return qs.filter(change__number=number) if number else qs.none()


class EmergencyDecisionViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Emergency changes that take a developer from a project: who agreed, who is taken,
    how many working days the release moves, and the Project Manager's confirmation."""

    serializer_class = EmergencyDecisionSerializer
    filterset_class = EmergencyDecisionFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.emergency_decisions(self.request.user)

    @extend_schema(
        request=EmergencyDecisionCreateSerializer, responses={201: EmergencyDecisionSerializer}
    )
    def create(self, request: Request) -> Response:
        """Record the decision (a Change Manager, on an emergency change)."""
        return _record_emergency_decision(request, request.data)

    @extend_schema(request=CommentInput, responses=EmergencyDecisionSerializer)
    @action(detail=True, methods=["post"], url_path="confirm")
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """The Project Manager named confirms it."""
        body = CommentInput(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.emergency_decision_confirm(
            decision=self.get_object(), actor=request.user, comment=body.validated_data["comment"]
        )
        return Response(EmergencyDecisionSerializer(self.get_queryset().get(pk=decision.pk)).data)

    @extend_schema(request=ReasonInput, responses=EmergencyDecisionSerializer)
    @action(detail=True, methods=["post"], url_path="contest")
    def contest(self, request: Request, pk: str | None = None) -> Response:
        """The Project Manager named contests it: the slip is taken back."""
        body = ReasonInput(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.emergency_decision_contest(
            decision=self.get_object(), actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(EmergencyDecisionSerializer(self.get_queryset().get(pk=decision.pk)).data)


class ChangeEmergencyDecisionsView(ApiContractMixin, APIView):
    """``GET``: the change's emergency decisions. ``POST``: record one for this change
    (the same as ``POST /api/v1/emergency-decisions/`` with ``change``)."""

    @extend_schema(responses=EmergencyDecisionSerializer(many=True))
    def get(self, request: Request, ref: str) -> Response:
        change = itsm_selectors.change_get(request.user, ref)
        rows = selectors.emergency_decisions(request.user).filter(change=change)
        return Response(EmergencyDecisionSerializer(rows, many=True).data)

    @extend_schema(
        request=EmergencyDecisionCreateSerializer, responses={201: EmergencyDecisionSerializer}
    )
    def post(self, request: Request, ref: str) -> Response:
        data = request.data.copy()
        data["change"] = itsm_selectors.change_get(request.user, ref).key
        return _record_emergency_decision(request, data)


class WorkItemFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WorkItemStatus.choices)
    project = django_filters.CharFilter(field_name="project__code")
    incident = django_filters.CharFilter(method="by_incident")
    ordering = django_filters.OrderingFilter(fields=("priority", "created_at", "earliest_due"))

    class Meta:
        model = WorkItem
        fields = ["status", "project", "assignee", "target_release", "severity", "priority"]

    def by_incident(self, qs, name, value):  # type: ignore[no-untyped-def]
        number = parse_key_number(value, "INC")
        return qs.filter(incidents__number=number) if number else qs.none()


class WorkItemViewSet(CsvExportMixin, WorkItemStructureActions, TicketViewSet):
    """Defects or enhancements. The list comes in backlog order (what hurts users most
    first) unless ``ordering`` says otherwise."""

    kind: str = Kind.DEFECT
    serializer_class = WorkItemSerializer
    filterset_class = WorkItemFilter
    transition_inputs = WORK_TRANSITION_INPUTS
    transition_services = services.WORK_TRANSITION_SERVICES
    ticket_kwarg = "item"
    export_columns = WORK_ITEM_COLUMNS
    export_filename = "work-items"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            selectors.backlog_order(selectors.work_items(self.request.user, self.kind))
            .select_related("parent")
            .prefetch_related(
                selectors.sla_incidents_prefetch(), "changes", *selectors.STRUCTURE_PREFETCH
            )
        )

    def find(self, ref: str) -> Any:
        return selectors.work_item_get(self.request.user, ref, self.kind)

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        ensure_can_fire_work(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        return selectors.work_transitions_for(user, ticket)

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        return services.work_comment(item=ticket, actor=user, body=body)

    @extend_schema(responses=WorkItemSlaSerializer)
    @action(detail=True, methods=["get"], url_path="sla")
    def sla(self, request: Request, pk: str | None = None) -> Response:
        """A work item has no SLA clocks of its own: its SLA is its linked incidents'.
        ``earliest_due`` is the earliest due moment among its open incidents' ticking
        clocks (the backlog's order); each incident follows with its clocks."""
        return Response(WorkItemSlaSerializer(selectors.work_item_sla(self.get_object())).data)

    @extend_schema(request=WorkItemCreateSerializer, responses={201: WorkItemSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = WorkItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.work_item_create(actor=request.user, kind=self.kind, **body.validated_data)
        return self.present(item, status_code=201)

    @extend_schema(request=WorkItemPatchSerializer, responses=WorkItemSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        from projects.iterations import work_item_edit

        body = WorkItemPatchSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        item = work_item_edit(item=self.get_object(), actor=request.user, **body.validated_data)
        return self.present(item)

    @extend_schema(request=LinkInput, responses=WorkItemSerializer)
    @action(detail=True, methods=["post"], url_path="links")
    def links(self, request: Request, pk: str | None = None) -> Response:
        """Link an incident (defects) or a change (enhancements)."""
        item = self.get_object()
        body = LinkInput(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("incident"):
            [incident] = itsm_selectors.incidents_by_keys(
                request.user, [body.validated_data["incident"]]
            )
            services.defect_link_incident(item=item, actor=request.user, incident=incident)
        elif body.validated_data.get("problem"):
            problem = itsm_selectors.problem_get(request.user, body.validated_data["problem"])
            services.defect_link_problem(item=item, actor=request.user, problem=problem)
        elif body.validated_data.get("change"):
            change = itsm_selectors.change_get(request.user, body.validated_data["change"])
            services.enhancement_link_change(item=item, actor=request.user, change=change)
        else:
            raise ValidationFailed("Give an incident or a change.", field="incident")
        return self.present(item)


class DefectViewSet(WorkItemViewSet):
    kind = Kind.DEFECT


class EnhancementViewSet(WorkItemViewSet):
    kind = Kind.ENHANCEMENT


class IncidentDefectView(ApiContractMixin, APIView):
    """``GET``: the incident's defect. ``POST``: send the incident to development (tier 3)
    and raise a defect on the project that builds its service, or link ``defect``."""

    @extend_schema(responses=WorkItemSerializer)
    def get(self, request: Request, ref: str) -> Response:
        incident = itsm_selectors.incident_get(request.user, ref)
        defect = selectors.defect_of(incident)
        try:
            if defect is None:
                raise NotFound("")
            visible = selectors.work_item_get(request.user, defect.key)
        except NotFound:
            # the same answer whether there is none or it is not the reader's to see: a
            # requester does not learn the defect's key from the refusal
            raise NotFound(f"{incident.key} has no defect you can see.") from None
        return Response(WorkItemSerializer(visible).data)

    @extend_schema(request=ToDevelopmentInput, responses={201: WorkItemSerializer})
    def post(self, request: Request, ref: str) -> Response:
        incident = itsm_selectors.incident_get(request.user, ref)
        body = ToDevelopmentInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        key = data.pop("defect")
        defect = selectors.work_item_get(request.user, key) if key else None
        item = services.incident_to_development(
            incident=incident, actor=request.user, defect=defect, **data
        )
        return Response(
            WorkItemSerializer(selectors.work_item_get(request.user, item.key)).data, status=201
        )


class IncidentSuspectsView(ApiContractMixin, APIView):
    """Changes and releases that went live on the incident's service shortly before it,
    likeliest first. Confirm one with POST /api/v1/changes/{id}/caused-incidents/."""

    @extend_schema(responses=IncidentSuspectSerializer(many=True))
    def get(self, request: Request, ref: str) -> Response:
        from projects.suspects import suspects_for

        if not is_staff_member(request.user):
            raise NotFound("No such incident.")
        incident = itsm_selectors.incident_get(request.user, ref)
        return Response(
            [
                {
                    "change": s.change.key,
                    "title": s.change.title,
                    "release": str(s.release) if s.release else None,
                    "went_live": s.went_live,
                    "hours_before": s.hours_before,
                    "score": s.score,
                    "withdrawn": s.withdrawn_how or None,
                    "withdrawn_at": s.withdrawn_at,
                }
                for s in suspects_for(incident)
            ]
        )


class TimeEntryInput(serializers.Serializer):
    target = serializers.CharField(help_text="INC-…, PRB-…, DEF-… or ENH-…")
    hours = serializers.DecimalField(max_digits=4, decimal_places=2)
    date = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class TimeEntrySerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField()
    team = serializers.CharField(
        source="team.name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The team whose work it was (set when the time was logged).",
    )

    class Meta:
        model = TimeEntry
        fields = ["id", "date", "hours", "is_support", "target", "team", "note", "created_at"]

    def get_target(self, entry: TimeEntry) -> str:
        obj = entry.target
        return getattr(obj, "key", str(obj)) if obj is not None else ""


class TimeEntryViewSet(ApiContractMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your own time entries; POST logs time on an incident, problem or work item."""

    serializer_class = TimeEntrySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return TimeEntry.objects.none()
        # the targets in one query per type, not one per entry
        return (
            TimeEntry.objects.filter(user=self.request.user)
            .select_related("content_type", "team")
            .prefetch_related("target")
        )

    @extend_schema(request=TimeEntryInput, responses={201: TimeEntrySerializer})
    def create(self, request: Request) -> Response:
        from projects.capacity import time_log
        from projects.views import resolve_target

        body = TimeEntryInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entry = time_log(
            actor=request.user,
            target=resolve_target(request.user, data["target"]),
            hours=data["hours"],
            on=data.get("date"),
            note=data["note"],
        )
        return Response(TimeEntrySerializer(entry).data, status=201)


class TeamCapacityView(ApiContractMixin, APIView):
    """Per developer of the team, for an ISO week (``?week=2026-W48``): the team's part of
    their support reservation (split between their teams), support and project hours
    spent on this team's work, their hours for other teams, and warnings."""

    @extend_schema(
        responses=TeamCapacitySerializer,
        parameters=[
            OpenApiParameter("week", str, description="ISO week, e.g. 2026-W48; default now")
        ],
    )
    def get(self, request: Request, team_id: int) -> Response:
        from core.models import Team
        from projects.capacity import team_capacity

        if not is_staff_member(request.user):
            raise NotFound("No such team.")
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise NotFound("No such team.")
        c = team_capacity(team, request.query_params.get("week"))
        return Response(
            {
                "team": team.name,
                "week": c["week"],
                "week_hours": c["week_hours"],
                "waiting_incidents": c["waiting"],
                "people": [
                    {
                        "username": r.user.username,
                        "share": r.share,
                        "reserved_hours": r.reserved,
                        "support_hours": r.support,
                        "project_hours": r.project,
                        "teams": r.teams,
                        "reserved_total_hours": r.reserved_total,
                        "other_teams_support_hours": r.other_support,
                        "other_teams_project_hours": r.other_project,
                        "warnings": r.warnings,
                    }
                    for r in c["rows"]
                ],
            }
        )


class IterationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=IterationStatus.choices)
    project = django_filters.CharFilter(field_name="project__code")

    class Meta:
        model = Iteration
        fields = ["status", "project"]


class IterationViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A project's iterations (sprints). POST plans one, PATCH edits name, goal and dates
    (name and goal once closed); ``transitions/start`` and ``transitions/close`` move it
    (close takes ``move_to`` for the unfinished items, else they go to the backlog)."""

    serializer_class = IterationSerializer
    filterset_class = IterationFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        from django.db.models import Count

        from projects.iterations import iteration_list

        return (
            iteration_list(self.request.user)
            .annotate(item_count=Count("items"))
            .order_by("-start", "-id")
        )

    def _present(self, it: Iteration, status_code: int = 200) -> Response:
        return Response(
            IterationSerializer(self.get_queryset().get(pk=it.pk)).data, status=status_code
        )

    @extend_schema(request=IterationCreateSerializer, responses={201: IterationSerializer})
    def create(self, request: Request) -> Response:
        from projects.iterations import iteration_create

        body = IterationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = (
            selectors.project_list(request.user)
            .filter(pk=body.validated_data["project"].pk)
            .first()
        )
        if project is None:
            raise ValidationFailed("No such project.", field="project")
        data = {**body.validated_data, "project": project}
        return self._present(iteration_create(actor=request.user, **data), 201)

    @extend_schema(request=IterationUpdateSerializer, responses=IterationSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        from projects.iterations import iteration_update

        body = IterationUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        it = iteration_update(
            iteration=self.get_object(), actor=request.user, **body.validated_data
        )
        return self._present(it)

    @extend_schema(request=IterationCloseInput, responses=IterationSerializer)
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def fire(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """``start`` (one active iteration per project) or ``close`` (``move_to``: a
        planned iteration for the unfinished items; null or absent: the backlog)."""
        from projects.iterations import iteration_close, iteration_start

        it = self.get_object()
        body = IterationCloseInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if name == "start":
            it = iteration_start(iteration=it, actor=request.user, comment=data["comment"])
        elif name == "close":
            it = iteration_close(iteration=it, actor=request.user, **data)
        else:
            raise NotFound(f"No transition '{name}'.")
        return self._present(it)

    @extend_schema(responses=BurndownSerializer)
    @action(detail=True, methods=["get"], url_path="burndown")
    def burndown(self, request: Request, pk: str | None = None) -> Response:
        """Remaining estimate per day (null for days to come) and the ideal line from the
        commitment to zero over the working days."""
        from projects.iterations import burndown

        it = self.get_object()
        data = burndown(it)
        return Response(BurndownSerializer({"iteration": it.pk, "status": it.status, **data}).data)

    @extend_schema(responses=IterationCapacitySerializer)
    @action(detail=True, methods=["get"], url_path="capacity")
    def capacity(self, request: Request, pk: str | None = None) -> Response:
        """The team's hours in the iteration net of each member's 3rd-line share, against
        the planned estimate."""
        from projects.iterations import iteration_capacity

        c = iteration_capacity(self.get_object())
        return Response(
            IterationCapacitySerializer(
                {
                    "gross_hours": c.gross_hours,
                    "support_hours": c.support_hours,
                    "net_hours": c.net_hours,
                    "planned_hours": c.planned_hours,
                    "unestimated_items": c.unestimated,
                    "warnings": c.warnings,
                    "members": [
                        {
                            "username": m.user.username,
                            "hours": m.hours,
                            "support_share": m.share,
                            "support_hours": m.support_hours,
                            "net_hours": m.net_hours,
                        }
                        for m in c.members
                    ],
                }
            ).data
        )

    @extend_schema(
        parameters=[OpenApiParameter("project", str, required=True, description="project code")],
        responses=VelocitySerializer,
    )
    @action(detail=False, methods=["get"], url_path="velocity")
    def velocity(self, request: Request) -> Response:
        """The project's last closed iterations, oldest first: what each committed when it
        started and completed when it closed (hours of estimate), and their average."""
        from projects.iterations import velocity

        code = request.query_params.get("project", "")
        project = selectors.project_list(request.user).filter(code=code).first()
        if project is None:
            raise ValidationFailed(f"No project {code!r}.", field="project")
        rows = velocity(project)
        done = [float(r.completed_hours or 0) for r in rows]
        return Response(
            VelocitySerializer(
                {
                    "project": project.code,
                    "iterations": rows,
                    "average_completed_hours": round(sum(done) / len(done), 1) if done else None,
                }
            ).data
        )
