from typing import Any

from django.core.paginator import Paginator
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


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

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        counter = getattr(view, "list_count", None)
        total, exact = counter(queryset) if counter else (queryset.count(), True)
        self.exact = exact
        reach = min(total, self.max_rows)

        class Known(Paginator):
            @property
            def count(self) -> int:  # type: ignore[override]
                return reach

        self.django_paginator_class = Known
        self.total = total
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["count"] = self.total
        response.data["count_exact"] = self.exact
        return response

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


class KeptFilterBackend(DjangoFilterBackend):
    """django-filter's backend, keeping the filter set it ran on the view
    (``view.active_filterset``) so the list's count can read which filters are in use."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        view.active_filterset = filterset
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        return filterset.qs
