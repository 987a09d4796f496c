"""Article filters, shared by the knowledge pages and the API."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from core.models import Service
from knowledge.models import Article, ArticleStatus, Audience
from knowledge.search import search


class ArticleFilter(django_filters.FilterSet):
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), label="Service"
    )
    audience = django_filters.ChoiceFilter(choices=Audience.choices)
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag")
    status = django_filters.MultipleChoiceFilter(choices=ArticleStatus.choices)
    needs_review = django_filters.BooleanFilter()
    # An id, not a choice among users: a 400 for an unknown one would tell who exists.
    owner = django_filters.NumberFilter(field_name="owner_id", label="Owner (user id)")
    # Last, so the ranking it orders by is the final order.
    q = django_filters.CharFilter(method="filter_text", label="Search")

    class Meta:
        model = Article
        fields = ["service", "audience", "tag", "status", "needs_review", "owner", "q"]

    def filter_text(self, qs: QuerySet[Article], name: str, value: str) -> QuerySet[Article]:
        return search(qs, value)
