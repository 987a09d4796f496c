"""Incident filters, shared by the desk pages and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet

from core.ids import parse_key_number
from core.models import Service, Team, Tier
from itsm.models import Incident, IncidentStatus
from sla.selectors import with_next_due

User = get_user_model()


class SlaAwareOrderingFilter(django_filters.OrderingFilter):
    """Adds ``sla``: by time to the next breach, overdue first, tickets without a ticking
    clock last."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.extra["choices"] += [("sla", "SLA urgency"), ("-sla", "SLA urgency (descending)")]

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:  # type: ignore[override]
        if value and any(v.lstrip("-") == "sla" for v in value):
            qs = with_next_due(qs)
            order = []
            for v in value:
                if v == "sla":
                    order.append(F("sla_next_due").asc(nulls_last=True))
                elif v == "-sla":
                    order.append(F("sla_next_due").desc(nulls_last=True))
                else:
                    order.append(self.get_ordering_value(v))
            return qs.order_by(*order)
        return super().filter(qs, value)


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=IncidentStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=[(i, f"P{i}") for i in range(1, 6)], widget=forms.CheckboxSelectMultiple
    )
    tier = django_filters.ChoiceFilter(choices=Tier.choices, empty_label="Any tier")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label="Any team")
    service = django_filters.ModelChoiceFilter(
        queryset=Service.objects.all(), empty_label="Any service"
    )
    assignee = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    requester = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    major_incident = django_filters.BooleanFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_text", label="Search")
    ordering = SlaAwareOrderingFilter(
        fields=(
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("priority", "priority"),
            ("status", "status"),
            ("number", "number"),
            ("title", "title"),
        )
    )

    class Meta:
        model = Incident
        fields = ["status", "priority", "tier", "team", "service", "assignee", "requester"]

    def filter_text(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        value = value.strip()
        if not value:
            return qs
        cond = Q(title__icontains=value) | Q(description__icontains=value)
        number = parse_key_number(value, Incident.KEY_PREFIX)
        if number:
            cond |= Q(number=number)
        return qs.filter(cond)

    @property
    def qs(self) -> QuerySet[Incident]:
        # Pagination needs a total order: whatever the sort, the id breaks ties.
        qs = super().qs
        order = list(qs.query.order_by) or ["-created_at"]
        if not any(isinstance(o, str) and o.lstrip("-") in ("id", "pk", "number") for o in order):
            order.append("-id")
        return qs.order_by(*order)
