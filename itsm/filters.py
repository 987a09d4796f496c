"""Incident filters, shared by the desk pages and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.ids import parse_key_number
from core.models import Service, Team, Tier
from core.params import MomentFilter
from itsm.models import Incident, IncidentStatus

User = get_user_model()


class SlaAwareOrderingFilter(django_filters.OrderingFilter):
    """Adds ``sla``: by time to the next breach, overdue first, incidents without a ticking
    clock last (``Incident.sla_due_at``, kept by the SLA engine); ``-sla`` the reverse."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.extra["choices"] += [("sla", "SLA urgency"), ("-sla", "SLA urgency (descending)")]

    def get_ordering_value(self, param: str) -> Any:
        if param.lstrip("-") == "sla":
            # the exact reverse of each other, so one index serves both directions
            due = F("sla_due_at")
            return due.desc(nulls_first=True) if param.startswith("-") else due.asc(nulls_last=True)
        return super().get_ordering_value(param)


class WholeNumberFilter(django_filters.NumberFilter):
    """A whole number within bounds (the API documents it as an integer; a negative or
    absurd value is a 400, not an empty list)."""

    field_class = forms.IntegerField


SLA_STATES = [("breached", "Breached"), ("at_risk", "At risk")]


# A text search names at most this many requesters by id; beyond, it matches them by join.
REQUESTER_IDS = 500


def requester_matches(value: str) -> Q:
    """Each word of ``value`` in the requester's first or last name, username or e-mail
    ("ann smi" finds Ann Smith). As a list of ids when they are few: an ``OR`` with the
    title and description conditions can then combine the indexes of all three (a join
    in the ``OR`` would read every incident of the queue)."""
    cond = Q()
    for word in value.split()[:5]:
        cond &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
        )
    ids = list(User.objects.filter(cond).values_list("pk", flat=True)[: REQUESTER_IDS + 1])
    if len(ids) <= REQUESTER_IDS:
        return Q(requester_id__in=ids)
    return Q(requester__in=User.objects.filter(cond))


class IncidentFilter(django_filters.FilterSet):
    # distinct=False: no join here can repeat a row, and DISTINCT would sort the whole set
    status = django_filters.MultipleChoiceFilter(
        choices=IncidentStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=[(i, f"P{i}") for i in range(1, 6)],
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    tier = django_filters.ChoiceFilter(choices=Tier.choices, empty_label="Any tier")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label="Any team")
    service = django_filters.ModelChoiceFilter(
        queryset=Service.objects.all(), empty_label="Any service"
    )
    assignee = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    requester = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    unassigned = django_filters.BooleanFilter(
        field_name="assignee", lookup_expr="isnull", label="Held by nobody (true) or somebody"
    )
    requester_search = django_filters.CharFilter(
        method="filter_requester", label="Requester name, username or e-mail (words, any order)"
    )
    major_incident = django_filters.BooleanFilter()
    sla = django_filters.ChoiceFilter(
        choices=SLA_STATES,
        method="filter_sla",
        empty_label="Any SLA",
        label="breached: an SLA target was missed (or is overdue now); at_risk: a ticking "
        "clock passed a warning threshold and is not yet due",
    )
    older_than_days = WholeNumberFilter(
        method="filter_older_than",
        min_value=0,
        max_value=3650,
        label="Opened more than this many days ago",
    )
    idle_hours = WholeNumberFilter(
        method="filter_idle",
        min_value=0,
        max_value=87600,
        label="Not updated for at least this many hours",
    )
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
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
        cond |= requester_matches(value)
        number = parse_key_number(value, Incident.KEY_PREFIX)
        if number:
            cond |= Q(number=number)
        return qs.filter(cond)

    def filter_requester(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return qs.filter(requester_matches(value)) if value.strip() else qs

    def filter_sla(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        # Per clock (cancelled ones aside): breached is a clock that missed its target or a
        # ticking one already overdue (not swept yet); at risk a ticking, unbreached clock
        # whose warning fired (``fired``: the highest threshold the sweep passed) and whose
        # due moment is still ahead. Read off the incident row, where the SLA engine keeps
        # them (``Incident.SLA_KEPT``), so the queue's own index walk answers it.
        now, kept = timezone.now(), Incident.SLA_KEPT
        if value == "breached":
            return qs.filter(kept.breached_q(now))
        if value == "at_risk":
            return qs.filter(kept.at_risk_q(now))
        return qs

    def filter_older_than(
        self, qs: QuerySet[Incident], name: str, value: int | None
    ) -> QuerySet[Incident]:
        if value is None:
            return qs
        return qs.filter(created_at__lte=timezone.now() - timedelta(days=value))

    def filter_idle(
        self, qs: QuerySet[Incident], name: str, value: int | None
    ) -> QuerySet[Incident]:
        if value is None:
            return qs
        return qs.filter(updated_at__lte=timezone.now() - timedelta(hours=value))

    @property
    def qs(self) -> QuerySet[Incident]:
        # Pagination needs a total order: the id breaks ties, in the direction of the last
        # key, so that each ordering is one index walked either way (Incident.Meta.indexes).
        qs = super().qs
        order = list(qs.query.order_by) or ["-created_at"]
        if not any(isinstance(o, str) and o.lstrip("-") in ("id", "pk", "number") for o in order):
            last = order[-1]
            descending = last.startswith("-") if isinstance(last, str) else last.descending
            order.append("-id" if descending else "id")
        return qs.order_by(*order)
