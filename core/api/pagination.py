import base64
import binascii
import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, OrderBy
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


class CountedPagination(StandardPagination):
    """Pages whose total the view knows without a ``COUNT(*)`` of the whole list: the view's
    ``list_count(queryset) -> (total, exact)`` (``itsm.counts`` for incidents: exact from
    the counts table, or capped at a number with ``count_exact: false``). Pages reach
    ``max_rows`` deep; past that a client follows ``next`` on a keyset list instead
    (``?cursor=``, see ``KeysetMixin``)."""

    max_rows = 10_000
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        counter = getattr(view, "list_count", None)
        total, exact = counter(queryset) if counter else (queryset.count(), True)
        self.exact = exact
        self.request = request
        self.keys = keyset_keys(queryset)
        self.after: str | None = None
        raw = request.query_params.get(self.cursor_query_param)
        if raw is not None:
            return self._keyset_page(queryset, request, raw, total)
        reach = min(total, self.max_rows)

        class Known(Paginator):
            @property
            def count(self) -> int:  # type: ignore[override]
                return reach

        self.django_paginator_class = Known
        self.total = total
        rows = super().paginate_queryset(queryset, request, view)
        at_end = self.page.number * self.page.paginator.per_page >= reach
        if rows and at_end and total > reach and self.keys:
            # the pages stop here, the list does not: go on by keyset from the last row
            self.after = encode_cursor(self.keys, rows[-1])
        return rows

    def _keyset_page(self, queryset: Any, request: Any, raw: str, total: int) -> list[Any]:
        if not self.keys:
            raise ValidationError({"cursor": "A cursor follows one ordering column and the id."})
        size = self.get_page_size(request) or self.page_size
        rows = list(after_cursor(queryset, self.keys, raw)[: size + 1])
        self.total = total
        self.page = None
        if len(rows) > size:
            self.after = encode_cursor(self.keys, rows[size - 1])
        return rows[:size]

    def get_next_link(self) -> str | None:
        if self.after is not None:
            url = self.request.build_absolute_uri()
            url = remove_query_param(url, self.page_query_param)
            return replace_query_param(url, self.cursor_query_param, self.after)
        if self.page is None:  # the keyset's last page
            return None
        return super().get_next_link()

    def get_previous_link(self) -> str | None:
        return None if self.page is None else super().get_previous_link()

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.total,
                "count_exact": self.exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        shape = super().get_paginated_response_schema(schema)
        shape["properties"]["count"]["description"] = (
            "How many match; a lower bound when count_exact is false."
        )
        shape["properties"]["count_exact"] = {
            "type": "boolean",
            "description": "False when more match than were counted (count is then the cap).",
        }
        shape["required"] = [*shape.get("required", []), "count_exact"]
        return shape

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where a keyset page starts: taken from `next` once the "
                f"numbered pages end ({self.max_rows} rows).",
                "schema": {"type": "string"},
            },
        ]


# --- keyset pages -------------------------------------------------------------------------
def keyset_keys(queryset: Any) -> list[tuple[str, bool]] | None:
    """The list's order as (column, descending) pairs when a keyset can follow it: one
    column then the id, in the same direction (how ``itsm.filters`` orders); else None."""
    keys: list[tuple[str, bool]] = []
    for term in queryset.query.order_by:
        if isinstance(term, str):
            keys.append((term.lstrip("-"), term.startswith("-")))
        elif isinstance(term, OrderBy) and isinstance(term.expression, F):
            keys.append((term.expression.name, term.descending))
        else:
            return None
    if not 1 <= len(keys) <= 2 or keys[-1][0] not in ("id", "pk", "number"):
        return None
    if len({desc for _, desc in keys}) != 1:
        return None
    return keys


def encode_cursor(keys: list[tuple[str, bool]], row: Any) -> str:
    values = [getattr(row, "pk" if name == "pk" else name) for name, _ in keys]
    text = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def after_cursor(queryset: Any, keys: list[tuple[str, bool]], raw: str) -> Any:
    """The rows after the cursor's row, as one row-value comparison an index range scan
    can start from (``(col, id) > (…, …)``); a null first column (the SLA order's "no
    ticking clock") sorts last going up and first going down."""
    model = queryset.model
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        fields = [model._meta.get_field("id" if n == "pk" else n) for n, _ in keys]
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        values = [
            None if v is None else f.to_python(v) for f, v in zip(fields, values, strict=True)
        ]
    except (ValueError, TypeError, DjangoValidationError, binascii.Error):
        raise ValidationError({"cursor": "Not a cursor this list gave."}) from None
    values = [
        None if v is None else f.get_db_prep_value(v, connection)
        for f, v in zip(fields, values, strict=True)
    ]
    desc = keys[0][1]
    op = "<" if desc else ">"
    cols = [f'"{model._meta.db_table}"."{f.column}"' for f in fields]
    if len(keys) == 1:
        return queryset.extra(where=[f"{cols[0]} {op} %s"], params=[values[0]])
    first, last = cols
    if values[0] is None:
        where = f"({first} IS NULL AND {last} {op} %s)"
        where += f" OR {first} IS NOT NULL" if desc else ""
        return queryset.extra(where=[where], params=[values[1]])
    where = f"({first}, {last}) {op} (%s, %s)"
    if not desc and fields[0].null:
        where = f"({where} OR {first} IS NULL)"
    return queryset.extra(where=[where], params=values)


class KeptFilterBackend(DjangoFilterBackend):
    """django-filter's backend, keeping the filter set it ran on the view
    (``view.active_filterset``) so the list's count can read which filters are in use."""

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        view.active_filterset = filterset
        return filterset
