"""The incident and change figures of the dashboards (``dashboards.views``), each
computed in the database in one or two aggregate queries over the filter's period
(``core.dashboards.Filters``), whatever the number of incidents. Each figure links to the
desk or change list with the matching filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Avg, Count, Q, QuerySet
from django.urls import reverse

from core.dashboards import (
    SQLITE_PERCENTILE_ROWS,
    Figure,
    Filters,
    Percentile,
    Seconds,
    Series,
    bucket_counts,
    percent,
    percentile_in_python,
    supports_percentile,
)
from core.models import Tier
from itsm.models import Change, Incident
from itsm.models.change import ChangeType, Outcome
from itsm.models.incident import OPEN_STATES

TOP_SERVICES = 10
PRIORITIES = range(1, 6)


def _incidents(filters: Filters) -> QuerySet[Incident]:
    qs = Incident.objects.all()
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    return qs


def desk_url(filters: Filters, *, created: bool = True, **params: Any) -> str:
    """The desk over every queue with the figure's filters (and its period when the figure
    counts incidents raised in it)."""
    query: list[tuple[str, Any]] = [("queue", "all")]
    if filters.service_id:
        query.append(("service", filters.service_id))
    if filters.team_id:
        query.append(("team", filters.team_id))
    if created:
        query += [
            ("created_after", f"{filters.start:%Y-%m-%d}"),
            ("created_before", f"{filters.end:%Y-%m-%d}"),
        ]
    for name, value in params.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            query.append((name, v))
    return f"{reverse('itsm:desk')}?{urlencode(query)}"


def backlog_rows(filters: Filters) -> list[dict[str, Any]]:
    """Incidents open at the end of each bucket (``b<i>``), per priority and tier, in one
    pass over those raised before the period's end and still open at its start; both
    backlog figures read it, so it is computed (and cached) once for the two."""
    from django.core.cache import cache

    from core import dashboards

    key = f"{dashboards.CACHE_PREFIX}:backlog_rows:{filters.cache_key}"
    rows = cache.get(key)
    if rows is not None:
        return rows
    qs = _incidents(filters).exclude(status="cancelled")
    qs = qs.filter(created_at__lt=filters.end).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=filters.start)
    )
    aggs = {
        f"b{i}": Count(
            "id",
            filter=Q(created_at__lt=b.end)
            & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=b.end)),
        )
        for i, b in enumerate(filters.buckets)
    }
    rows = list(qs.order_by().values("priority", "tier").annotate(**aggs))
    cache.set(key, rows, dashboards.CACHE_SECONDS)
    return rows


def backlog(filters: Filters, by: str) -> Figure:
    """Incidents open at the end of each bucket, per priority or tier: raised before it and
    not resolved by then. Reopened incidents count from their last resolution; cancelled
    ones (which keep no cancel time) are left out; the tier is the incident's current one."""
    n = len(filters.buckets)
    rows: dict[Any, dict[str, int]] = {}
    for r in backlog_rows(filters):
        into = rows.setdefault(r[by], {})
        for i in range(n):
            into[f"b{i}"] = into.get(f"b{i}", 0) + r[f"b{i}"]
    keys: list[Any] = list(PRIORITIES) if by == "priority" else [t.value for t in Tier]
    series = [
        Series(
            f"P{k}" if by == "priority" else Tier(k).label.split(":")[0],
            [rows.get(k, {}).get(f"b{i}", 0) for i in range(len(filters.buckets))],
        )
        for k in keys
    ]
    open_now = [s.value for s in OPEN_STATES]
    return Figure(
        f"backlog_{by}",
        f"Backlog by {by}",
        "line",
        "Period end",
        [b.label for b in filters.buckets],
        series,
        unit="incidents",
        link=desk_url(filters, created=False, status=open_now),
        note="Incidents open at the end of each period (raised before it, not resolved by it).",
    )


def response_resolve_times(filters: Filters) -> Figure:
    """Mean and 90th-percentile hours to first response and to resolution, per priority,
    of the incidents raised in the period. PostgreSQL computes the percentile
    (``percentile_cont``); on another database it is computed here from a bounded read
    (``SQLITE_PERCENTILE_ROWS`` rows per measure)."""
    qs = _incidents(filters).filter(created_at__gte=filters.start, created_at__lt=filters.end)
    respond, resolve = Seconds("responded_at", "created_at"), Seconds("resolved_at", "created_at")
    aggs: dict[str, Any] = {
        "respond_mean": Avg(respond, filter=Q(responded_at__isnull=False)),
        "resolve_mean": Avg(resolve, filter=Q(resolved_at__isnull=False)),
    }
    if supports_percentile():
        aggs["respond_p90"] = Percentile(respond, 0.9, filter=Q(responded_at__isnull=False))
        aggs["resolve_p90"] = Percentile(resolve, 0.9, filter=Q(resolved_at__isnull=False))
    rows = {r["priority"]: r for r in qs.order_by().values("priority").annotate(**aggs)}
    if not supports_percentile():
        for measure, column, expr in (
            ("respond", "responded_at", respond),
            ("resolve", "resolved_at", resolve),
        ):
            values: dict[int, list[float]] = {}
            read = (
                qs.filter(**{f"{column}__isnull": False})
                .annotate(s=expr)
                .order_by("priority", "s")
                .values_list("priority", "s")[:SQLITE_PERCENTILE_ROWS]
            )
            for priority, seconds in read:
                values.setdefault(priority, []).append(seconds)
            for priority, row in rows.items():
                row[f"{measure}_p90"] = percentile_in_python(values.get(priority, []), 0.9)

    def hours(priority: int, name: str) -> float | None:
        value = rows.get(priority, {}).get(name)
        return None if value is None else round(value / 3600, 1)

    names = [
        ("respond_mean", "Respond, mean"),
        ("respond_p90", "Respond, 90th percentile"),
        ("resolve_mean", "Resolve, mean"),
        ("resolve_p90", "Resolve, 90th percentile"),
    ]
    return Figure(
        "times",
        "Time to respond and resolve",
        "bar",
        "Priority",
        [f"P{p}" for p in PRIORITIES],
        [Series(label, [hours(p, name) for p in PRIORITIES]) for name, label in names],
        unit="hours",
        link=desk_url(filters),
        links=[desk_url(filters, priority=p) for p in PRIORITIES],
        note="Incidents raised in the period; wall-clock hours from raising.",
    )


def reopen_rate(filters: Filters) -> Figure:
    """Per bucket of raising: incidents reopened at least once ÷ incidents resolved at least
    once (a reopened one was resolved once, whatever its state now)."""
    qs = _incidents(filters).filter(created_at__gte=filters.start, created_at__lt=filters.end)
    (row,) = bucket_counts(
        qs,
        "created_at",
        filters.buckets,
        reopened=Q(reopen_count__gt=0),
        resolved=Q(resolved_at__isnull=False) | Q(reopen_count__gt=0),
    )
    n = len(filters.buckets)
    return Figure(
        "reopen_rate",
        "Reopen rate",
        "line",
        "Period",
        [b.label for b in filters.buckets],
        [
            Series(
                "Reopened", [percent(row[f"reopened{i}"], row[f"resolved{i}"]) for i in range(n)]
            ),
        ],
        unit="%",
        link=desk_url(filters),
        note="Incidents raised in each period and resolved at least once; share reopened.",
    )


def top_services(filters: Filters) -> Figure:
    qs = _incidents(filters).filter(created_at__gte=filters.start, created_at__lt=filters.end)
    rows = list(
        qs.order_by()
        .values("service_id", "service__name")
        .annotate(n=Count("id"))
        .order_by("-n", "service__name")[:TOP_SERVICES]
    )
    return Figure(
        "top_services",
        f"Top {TOP_SERVICES} services by incident volume",
        "bar",
        "Service",
        [r["service__name"] for r in rows],
        [Series("Incidents", [r["n"] for r in rows])],
        unit="incidents",
        link=desk_url(filters),
        links=[
            desk_url(filters, service=r["service_id"])
            if not filters.service_id
            else desk_url(filters)
            for r in rows
        ],
        note="Incidents raised in the period.",
    )


def change_outcomes(filters: Filters) -> Figure:
    """Per bucket: the share of implemented changes (an outcome recorded, bucketed by
    their actual end) that succeeded, "successful with issues" counted as not; and the
    share of changes raised that were emergencies. One query."""
    qs = Change.objects.all()
    if filters.service_id:
        qs = qs.filter(services=filters.service_id)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    qs = qs.filter(
        Q(created_at__gte=filters.start, created_at__lt=filters.end)
        | Q(actual_end__gte=filters.start, actual_end__lt=filters.end)
    ).exclude(status="draft")
    aggs: dict[str, Any] = {}
    for i, b in enumerate(filters.buckets):
        raised = Q(created_at__gte=b.start, created_at__lt=b.end)
        done = Q(actual_end__gte=b.start, actual_end__lt=b.end) & ~Q(outcome="")
        aggs[f"raised{i}"] = Count("id", filter=raised, distinct=bool(filters.service_id))
        aggs[f"emergency{i}"] = Count(
            "id", filter=raised & Q(type=ChangeType.EMERGENCY), distinct=bool(filters.service_id)
        )
        aggs[f"done{i}"] = Count("id", filter=done, distinct=bool(filters.service_id))
        aggs[f"ok{i}"] = Count(
            "id", filter=done & Q(outcome=Outcome.SUCCESSFUL), distinct=bool(filters.service_id)
        )
    row = qs.aggregate(**aggs)
    n = len(filters.buckets)
    query: dict[str, Any] = {}
    if filters.service_id:
        query["services"] = filters.service_id
    link = reverse("itsm:changes") + (f"?{urlencode(query)}" if query else "")
    return Figure(
        "change_outcomes",
        "Change success rate and emergency share",
        "line",
        "Period",
        [b.label for b in filters.buckets],
        [
            Series("Successful", [percent(row[f"ok{i}"], row[f"done{i}"]) for i in range(n)]),
            Series(
                "Emergency", [percent(row[f"emergency{i}"], row[f"raised{i}"]) for i in range(n)]
            ),
        ],
        unit="%",
        link=link,
        note=(
            "Successful: of the changes implemented in each period (outcome recorded). "
            "Emergency: of the changes raised in each period (drafts left out)."
        ),
    )
