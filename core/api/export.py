"""``GET /api/v1/<list>/export/``: a list endpoint's CSV, of the same filtered queryset the
list answers (the viewset's own ``get_queryset`` and filterset), streamed (core.export).

A dedicated action, not ``?format=csv``: DRF reads ``format`` as its renderer switch, and a
CSV renderer would receive the paginated page, not a stream of every matching row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request

from core.export import Column, csv_response


class CsvExportMixin:
    export_columns: ClassVar[Sequence[Column]]
    export_filename: ClassVar[str]

    @extend_schema(
        filters=True,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Every matching row as CSV, streamed."
            )
        },
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """Every row the list would answer for these filters, as CSV (no pagination)."""
        qs = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        return csv_response(qs, self.export_columns, self.export_filename)
