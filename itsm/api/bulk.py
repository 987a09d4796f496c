"""Bulk actions in the API: ``POST /api/v1/incidents/bulk/`` starts a job (202),
``GET /api/v1/bulk-jobs/{id}/`` reports its progress and, once done, what each refused
ticket was refused for. Both go through ``itsm.services.bulk``, as the desk page does."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin
from itsm.models import BulkAction, BulkJob, BulkJobStatus
from itsm.services import bulk


class BulkCreateSerializer(serializers.Serializer):
    action = serializers.CharField(
        help_text=f"One of: {', '.join(BulkAction.values)}.",
    )
    incidents = serializers.ListField(
        child=serializers.CharField(),
        help_text=f"Keys (INC-1042) or ids, at most {BulkJob.MAX_TICKETS}.",
    )
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="assign: team (id) and/or assignee (id or username), comment · "
        "transition: name (start, hold, resume, escalate, resolve, reopen, close, cancel) "
        "and its fields (reason, resolution_code, resolution_notes, tier, comment) · "
        "link_problem: problem (PRB-7 or id) · add_watcher: user (id or username).",
    )


class RefusedSerializer(serializers.Serializer):
    incident = serializers.CharField(source="key")
    reason = serializers.CharField()


class BulkJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=BulkAction.choices)
    params = serializers.DictField()
    status = serializers.ChoiceField(choices=BulkJobStatus.choices)
    total = serializers.IntegerField()
    done_count = serializers.IntegerField()
    percent = serializers.IntegerField()
    succeeded = serializers.IntegerField(
        allow_null=True, help_text="Once finished: how many tickets the action was done to."
    )
    refused = RefusedSerializer(many=True, help_text="The tickets refused so far, and why.")
    error = serializers.CharField(help_text="Why the whole job failed, if it did.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def present(job: BulkJob) -> dict[str, Any]:
    summary = bulk.bulk_summary(job)
    return BulkJobSerializer(
        {
            **{f: getattr(job, f) for f in ("id", "action", "params", "status", "error")},
            **{f: getattr(job, f) for f in ("created_at", "started_at", "finished_at")},
            "total": job.total,
            "done_count": job.done_count,
            "percent": job.percent,
            "succeeded": summary["succeeded"],
            "refused": summary["refused"],
        }
    ).data


class IncidentBulkView(ApiContractMixin, APIView):
    @extend_schema(
        operation_id="incidents_bulk_create",
        request=BulkCreateSerializer,
        responses={202: BulkJobSerializer},
        description="Do one action to many incidents. Each ticket goes through the "
        "action's own service in its own transaction (its own permission and state "
        "checks, its own audit row); refusals are reported per ticket. 400 before "
        "anything runs for an unknown action, missing or bad parameters, unknown "
        "incidents or more than 500; 403 for non-staff. Poll the job's URL for progress.",
    )
    def post(self, request: Request) -> Response:
        body = BulkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = bulk.bulk_job_create(actor=request.user, **body.validated_data)
        job.refresh_from_db()  # a small job ran at commit
        where = request.build_absolute_uri(reverse("bulk-job-detail", args=[job.pk]))
        return Response(present(job), status=202, headers={"Location": where})


class BulkJobView(ApiContractMixin, APIView):
    @extend_schema(operation_id="bulk_jobs_retrieve", responses=BulkJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """A bulk job's progress and results: its creator's and administrators' only."""
        return Response(present(bulk.bulk_job_get(request.user, pk)))
