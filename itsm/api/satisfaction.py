"""``/api/v1/satisfaction/``: the answers staff may read (``satisfaction_scope``), the report
per team, service or agent, and the requester's answer (the same service as the pages)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.contract import ApiContractMixin
from core.exceptions import ActionForbidden
from core.params import DayFilter
from itsm import selectors
from itsm.models import SatisfactionResponse
from itsm.models.satisfaction import COMMENT_MAX_CHARS
from itsm.satisfaction_report import (
    GROUPS,
    can_view_satisfaction_report,
    latest_comments,
    parse_period,
    satisfaction_answers,
    satisfaction_report,
)
from itsm.services.satisfaction import satisfaction_answer


class SatisfactionSerializer(serializers.ModelSerializer):
    ticket = serializers.SerializerMethodField()
    ticket_type = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    service = serializers.SerializerMethodField()
    agent = serializers.SerializerMethodField()
    requester = serializers.SerializerMethodField()

    class Meta:
        model = SatisfactionResponse
        fields = [
            "id",
            "ticket",
            "ticket_type",
            "round",
            "satisfied",
            "comment",
            "requester",
            "team",
            "service",
            "agent",
            "asked_at",
            "answered_at",
        ]

    def get_ticket(self, obj: SatisfactionResponse) -> str:
        return str(obj.ticket.key)

    def get_ticket_type(self, obj: SatisfactionResponse) -> str:
        return obj.ticket_kind

    def get_team(self, obj: SatisfactionResponse) -> str | None:
        return obj.team.name if obj.team else None

    def get_service(self, obj: SatisfactionResponse) -> str | None:
        return obj.service.name if obj.service else None

    def get_agent(self, obj: SatisfactionResponse) -> str | None:
        return obj.agent.username if obj.agent else None

    def get_requester(self, obj: SatisfactionResponse) -> str:
        return str(obj.requester.username)


class SatisfactionAnswerInput(serializers.Serializer):
    ticket = serializers.RegexField(r"^(INC|REQ)-\d+$", help_text="INC-… or REQ-…")
    satisfied = serializers.BooleanField()
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=COMMENT_MAX_CHARS, default=""
    )


class SatisfactionFilter(django_filters.FilterSet):
    since = DayFilter(field_name="answered_at", lookup_expr="date__gte")
    until = DayFilter(field_name="answered_at", lookup_expr="date__lte")
    ticket_type = django_filters.ChoiceFilter(
        choices=[("incident", "incident"), ("request", "request")], method="filter_type"
    )

    class Meta:
        model = SatisfactionResponse
        fields = ["team", "service", "agent", "satisfied"]

    def filter_type(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        kind = Q(incident__isnull=False) if value == "incident" else Q(request__isnull=False)
        return qs.filter(kind)


REPORT = inline_serializer(
    "SatisfactionReport",
    {
        "group": serializers.CharField(),
        "since": serializers.DateField(),
        "until": serializers.DateField(),
        "rows": inline_serializer(
            "SatisfactionReportRow",
            {
                "id": serializers.IntegerField(allow_null=True),
                "name": serializers.CharField(),
                "responses": serializers.IntegerField(),
                "satisfied": serializers.IntegerField(),
                "percent_satisfied": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
        "latest_comments": SatisfactionSerializer(many=True),
    },
)


class SatisfactionViewSet(ApiContractMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Requesters' answers to "Are you satisfied?" (staff: the answers they answer for)."""

    serializer_class = SatisfactionSerializer
    filterset_class = SatisfactionFilter
    ordering = ["-answered_at", "-id"]

    def get_queryset(self) -> QuerySet[SatisfactionResponse]:
        if getattr(self, "swagger_fake_view", False):
            return SatisfactionResponse.objects.none()
        return satisfaction_answers(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("group", str, enum=list(GROUPS)),
            OpenApiParameter("since", str, description="YYYY-MM-DD (default: 30 days ago)"),
            OpenApiParameter("until", str, description="YYYY-MM-DD, inclusive (default: today)"),
        ],
        responses=REPORT,
        filters=False,
    )
    @action(detail=False, methods=["get"], url_path="report", filter_backends=[])
    def report(self, request: Request) -> Response:
        """Answers given in the period per team, service or agent (as at resolution),
        with the latest comments: Incident Managers, team leads and administrators."""
        if not can_view_satisfaction_report(request.user):
            raise ActionForbidden(
                "The satisfaction report is for Incident Managers, team leads and administrators."
            )
        group = request.query_params.get("group", "team")
        period = parse_period(request.query_params)
        answers = satisfaction_answers(request.user)
        rows = satisfaction_report(answers, group=group, period=period)
        comments = latest_comments(answers, period=period)
        return Response(
            {
                "group": group,
                "since": period.since.date(),
                "until": period.last_day,
                "rows": [
                    {
                        "id": r.key,
                        "name": r.name,
                        "responses": r.responses,
                        "satisfied": r.satisfied,
                        "percent_satisfied": r.percent_satisfied,
                    }
                    for r in rows
                ],
                "latest_comments": SatisfactionSerializer(comments, many=True).data,
            }
        )

    @extend_schema(request=SatisfactionAnswerInput, responses=SatisfactionSerializer)
    @action(detail=False, methods=["post"], url_path="answer", filter_backends=[])
    def answer(self, request: Request) -> Response:
        """The requester answers about their ticket's latest resolution (again: replaces
        the answer until the ticket is resolved again). 409 while it is not resolved."""
        body = SatisfactionAnswerInput(data=request.data)
        body.is_valid(raise_exception=True)
        ref: str = body.validated_data["ticket"]
        get: Any = selectors.incident_get if ref.startswith("INC-") else selectors.request_get
        response = satisfaction_answer(
            ticket=get(request.user, ref),
            actor_or_token=request.user,
            satisfied=body.validated_data["satisfied"],
            comment=body.validated_data["comment"],
        )
        return Response(SatisfactionSerializer(response).data)
