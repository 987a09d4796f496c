from __future__ import annotations

from datetime import datetime, timedelta

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin
from core.api.permissions import IsStaffReadAdministratorWrite
from core.config_audit import ConfigurationAuditViewSet
from core.exceptions import ActionForbidden, ValidationFailed
from core.export import csv_response
from core.params import parse_moment
from core.roles import is_staff_member
from sla.api.serializers import CalendarSerializer, SlaPolicySerializer
from sla.models import BusinessCalendar, SlaPolicy
from sla.reports import BREACH_COLUMNS, GROUPS, breach_rows, sla_breaches, sla_report


class SlaPolicyViewSet(ApiContractMixin, ConfigurationAuditViewSet, viewsets.ModelViewSet):
    queryset = SlaPolicy.objects.select_related("calendar", "service")
    serializer_class = SlaPolicySerializer
    permission_classes = [IsStaffReadAdministratorWrite]
    filterset_fields = ["ticket_type", "priority", "service", "is_active"]
    ordering = ["ticket_type", "priority", "id"]


class CalendarViewSet(ApiContractMixin, ConfigurationAuditViewSet, viewsets.ModelViewSet):
    queryset = BusinessCalendar.objects.prefetch_related("periods", "holidays")
    serializer_class = CalendarSerializer
    permission_classes = [IsStaffReadAdministratorWrite]
    filterset_fields = ["is_active"]
    ordering = ["name", "id"]


def parse_period(params: dict) -> tuple[datetime, datetime]:  # type: ignore[type-arg]
    """``from`` / ``to`` as dates or date-times; default the last 30 days. ``to`` as a
    date includes that whole day."""

    def parse(name: str, default: datetime) -> datetime:
        value = parse_moment(params.get(name), name, end_of_day=name == "to")
        return default if value is None else value

    end = parse("to", timezone.now())
    start = parse("from", end - timedelta(days=30))
    if start >= end:
        raise ValidationFailed("'from' must be before 'to'.", field="from")
    return start, end


class SlaReportView(ApiContractMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="YYYY-MM-DD or ISO date-time"),
            OpenApiParameter("to", str, description="YYYY-MM-DD (inclusive) or ISO date-time"),
            OpenApiParameter("group_by", str, enum=list(GROUPS)),
        ],
        responses=inline_serializer(
            "SlaReport",
            {
                "from": serializers.DateTimeField(),
                "to": serializers.DateTimeField(),
                "group_by": serializers.CharField(),
                "rows": serializers.ListField(),
                "breaches": serializers.ListField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        """SLA compliance per priority, team or service for clocks started in the period."""
        if not is_staff_member(request.user):
            raise ActionForbidden("SLA reports are for support staff.")
        group_by = request.query_params.get("group_by", "priority")
        if group_by not in GROUPS:
            raise ValidationFailed(f"group_by is one of {', '.join(GROUPS)}.", field="group_by")
        start, end = parse_period(request.query_params)
        rows = sla_report(start=start, end=end, group_by=group_by)
        breaches = sla_breaches(start=start, end=end)
        return Response(
            {
                "from": start,
                "to": end,
                "group_by": group_by,
                "rows": [
                    {
                        "group": r.group,
                        "target": r.target,
                        "total": r.total,
                        "met": r.met,
                        "breached": r.breached,
                        "open": r.open,
                        "compliance": r.compliance,
                    }
                    for r in rows
                ],
                "breaches": [
                    {
                        "ticket": getattr(c.ticket, "key", str(c.object_id)),
                        "target": c.target,
                        "policy": c.policy.name,
                        "breached_at": c.breached_at,
                        "team": c.team.name if c.team else None,
                        "service": c.service.name if c.service else None,
                    }
                    for c in breaches
                ],
            }
        )


class SlaBreachExportView(ApiContractMixin, APIView):
    """The period's SLA breaches as CSV, streamed: every one, not the report's first 200."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="YYYY-MM-DD or ISO date-time"),
            OpenApiParameter("to", str, description="YYYY-MM-DD (inclusive) or ISO date-time"),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="One row per breached clock, latest first."
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        if not is_staff_member(request.user):
            raise ActionForbidden("SLA reports are for support staff.")
        start, end = parse_period(request.query_params)
        return csv_response(breach_rows(start=start, end=end), BREACH_COLUMNS, "sla-breaches")
