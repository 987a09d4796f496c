"""The incident and change figures of the dashboards (``dashboards.views``). The incident
figures sum the daily roll-ups (``itsm.models.facts``, kept by ``dashboards.services``) in
one query each, whatever the number of incidents; the change figure reads the changes in
one aggregate query. Each figure links to the desk or change list with its filters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from core.dashboards import (
    DURATION_BANDS,
    Figure,
    Filters,
    Series,
    bucket_sums,
    histogram_percentile,
    percent,
    rollup_rows,
)
from core.models import Service, Tier
from itsm.models import Change, IncidentBacklogDay, IncidentDay
from itsm.models.change import ChangeType, Outcome
from itsm.models.incident import OPEN_STATES

TOP_SERVICES = 10
PRIORITIES = range(1, 6)


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
    """Incidents open at the end of each bucket (``b<i>``; today for the bucket still
    running), per priority and tier, summed from the daily backlog roll-up in one query;
    both backlog figures read it, so it is computed (and cached) once for the two."""
    from django.core.cache import cache

    from core import dashboards

    key = f"{dashboards.CACHE_PREFIX}:backlog_rows:{filters.cache_key}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    today = timezone.localdate()
    ends = [min(b.end.date() - timedelta(days=1), today) for b in filters.buckets]
    qs = IncidentBacklogDay.objects.filter(day__in=set(ends))
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    aggs = {f"b{i}": Sum("open", filter=Q(day=day), default=0) for i, day in enumerate(ends)}
    rows = list(qs.order_by().values("priority", "tier").annotate(**aggs))
    cache.set(key, rows, dashboards.CACHE_SECONDS)
    return rows


def backlog(filters: Filters, by: str) -> Figure:
    """Incidents open at the end of each bucket, per priority or tier: raised before it and
    not resolved by then, in the priority and tier they had then (the roll-up of each day
    is written as it passes). Cancelled incidents (which keep no cancel time) are left out."""
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
    of the incidents raised in the period, summed from the daily roll-up in one query. The
    percentile is read off the roll-up's duration bands (``histogram_percentile``)."""
    aggs: dict[str, Any] = {}
    for measure in ("respond", "resolve"):
        aggs[f"{measure}_n"] = Sum(f"{measure}_n", default=0)
        aggs[f"{measure}_sum"] = Sum(f"{measure}_sum", default=0.0)
        aggs[f"{measure}_max"] = Max(f"{measure}_max")
        for i in range(DURATION_BANDS):
            aggs[f"{measure}_{i}"] = Sum(f"{measure}_{i}", default=0)
    rows: dict[int, dict[str, Any]] = {}
    for r in rollup_rows(IncidentDay, filters).order_by().values("priority").annotate(**aggs):
        row = rows[r["priority"]] = {}
        for measure in ("respond", "resolve"):
            n = r[f"{measure}_n"]
            row[f"{measure}_mean"] = r[f"{measure}_sum"] / n if n else None
            bands = [r[f"{measure}_{i}"] for i in range(DURATION_BANDS)]
            row[f"{measure}_p90"] = histogram_percentile(bands, 0.9, r[f"{measure}_max"])

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
    (row,) = bucket_sums(
        rollup_rows(IncidentDay, filters), filters.buckets, "reopened", "resolved_once"
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
                "Reopened",
                [percent(row[f"reopened{i}"], row[f"resolved_once{i}"]) for i in range(n)],
            ),
        ],
        unit="%",
        link=desk_url(filters),
        note="Incidents raised in each period and resolved at least once; share reopened.",
    )


def top_services(filters: Filters) -> Figure:
    raised = dict(
        rollup_rows(IncidentDay, filters, per_service=True)
        .order_by()
        .values("service_id")
        .annotate(n=Sum("raised"))
        .values_list("service_id", "n")
    )
    names = dict(Service.objects.filter(pk__in=list(raised)).values_list("pk", "name"))
    rows = sorted(
        (
            {"service_id": pk, "service__name": names.get(pk, "?"), "n": n}
            for pk, n in raised.items()
        ),
        key=lambda r: (-r["n"], r["service__name"]),
    )[:TOP_SERVICES]
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
