"""SLA compliance over a period, grouped by priority, team or service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from core.dashboards import Figure, Filters, Series, bucket_sums, percent, rollup_rows
from core.export import Column, choice_col, col
from sla.models import SlaClock, SlaClockDay, Target

GROUPS = {"priority": "priority", "team": "team__name", "service": "service__name"}


@dataclass(frozen=True)
class ReportRow:
    group: str
    target: str
    total: int
    met: int
    breached: int
    open: int

    @property
    def compliance(self) -> float | None:
        decided = self.met + self.breached
        return round(100 * self.met / decided, 1) if decided else None


def sla_report(*, start: datetime, end: datetime, group_by: str) -> list[ReportRow]:
    """Clocks started in [start, end), cancelled ones left out. A clock is *met* when it
    stopped in time, *breached* once it missed its target, *open* otherwise."""
    field = GROUPS[group_by]
    rows = (
        SlaClock.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(state="cancelled")
        .values(field, "target")
        .annotate(
            n_total=Count("id"),
            n_breached=Count("id", filter=Q(breached=True)),
            n_met=Count("id", filter=Q(breached=False, stopped_at__isnull=False)),
        )
        .order_by(field, "target")
    )
    out = []
    for r in rows:
        key = r[field]
        label = f"P{key}" if group_by == "priority" and key else (key or "—")
        total, met, breached = r["n_total"], r["n_met"], r["n_breached"]
        out.append(ReportRow(label, r["target"], total, met, breached, total - met - breached))
    return out


def sla_breaches(*, start: datetime, end: datetime, limit: int = 200) -> list[SlaClock]:
    return list(
        SlaClock.objects.filter(breached=True, started_at__gte=start, started_at__lt=end)
        .select_related("policy", "content_type", "team", "service")
        .prefetch_related("ticket")
        .order_by("-breached_at")[:limit]
    )


def breach_rows(*, start: datetime, end: datetime) -> QuerySet[SlaClock]:
    """Every clock breached among those started in [start, end), latest breach first, with
    its ticket's key prefix and number as ``ticket_prefix`` / ``ticket_number`` (read in the
    same query: a ``CASE`` over the ticket types, each a subquery on the ticket's id), for
    the export. The ticket types are the models with a key prefix and an SLA snapshot: the
    engine knows tickets only through that interface."""
    tickets = [
        m for m in apps.get_models() if hasattr(m, "KEY_PREFIX") and hasattr(m, "sla_snapshot")
    ]
    types = ContentType.objects.get_for_models(*tickets)  # cached: no query once warm
    number = Case(
        *[
            When(
                content_type=ct,
                then=Subquery(model.objects.filter(pk=OuterRef("object_id")).values("number")[:1]),
            )
            for model, ct in types.items()
        ],
        output_field=BigIntegerField(),
    )
    prefix = Case(
        *[When(content_type=ct, then=Value(model.KEY_PREFIX)) for model, ct in types.items()],
        default=Value(""),
        output_field=CharField(),
    )
    return (
        SlaClock.objects.filter(breached=True, started_at__gte=start, started_at__lt=end)
        .annotate(ticket_prefix=prefix, ticket_number=number)
        .order_by("-breached_at", "-id")
    )


def _ticket_key(prefix: str, number: int | None) -> str:
    return f"{prefix}-{number}" if prefix and number else ""


BREACH_COLUMNS: list[Column] = [
    Column("Ticket", ("ticket_prefix", "ticket_number"), _ticket_key),
    col("Ticket type", "content_type__model"),
    choice_col("Target", "target", Target.choices),
    col("Policy", "policy__name"),
    col("Priority", "priority", lambda p: f"P{p}" if p else ""),
    col("Team", "team__name"),
    col("Service", "service__name"),
    col("Started", "started_at"),
    col("Due", "due_at"),
    col("Breached at", "breached_at"),
    col("Stopped", "stopped_at"),
]


def sla_trend(filters: Filters) -> Figure:
    """Dashboards: the share of decided clocks met, per bucket of their start, for the
    response and the resolution targets (the report's rule: cancelled clocks left out; a
    clock is decided once met or breached), summed from the daily roll-up
    (``SlaClockDay``, kept by ``dashboards.services``) in one query."""
    from django.urls import reverse

    qs = rollup_rows(SlaClockDay, filters)
    rows = bucket_sums(qs, filters.buckets, "met", "breached", group="target")
    by_target = {r["target"]: r for r in rows}
    series = []
    for target in (Target.RESPONSE, Target.RESOLUTION):
        r = by_target.get(target, {})
        values = [
            percent(r.get(f"met{i}"), (r.get(f"met{i}") or 0) + (r.get(f"breached{i}") or 0))
            for i in range(len(filters.buckets))
        ]
        series.append(Series(f"{Target(target).label} met", values))
    last_day = (filters.end - timedelta(days=1)).date()
    link = f"{reverse('sla:report')}?from={filters.start:%Y-%m-%d}&to={last_day:%Y-%m-%d}"
    return Figure(
        "sla_trend",
        "SLA compliance trend",
        "line",
        "Period",
        [b.label for b in filters.buckets],
        series,
        unit="%",
        link=link,
        note="Clocks started in each period; met ÷ (met + breached), open ones left out.",
    )
