"""Write the dashboards' incident roll-ups (``itsm.models.facts``) from the incident table.

Called by ``dashboards.services.facts_collect`` (every ``DASHBOARDS_COLLECT_SECONDS`` and
in full by ``manage.py dashboards_collect --full``), inside its transaction. Each function
replaces the rows of the days it is given: safe to run twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, Sum

from core.dashboards import (
    Seconds,
    day_runs,
    days_between,
    duration_band_filters,
    local_date_of,
    local_day,
    midnight,
    rollup_totals_write,
)
from itsm.models import Incident, IncidentBacklogDay, IncidentDay

CANCELLED = "cancelled"
_BATCH = 5_000


def first_incident_day() -> date | None:
    first = Incident.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return local_day(first) if first else None


def changed_incident_days(since: datetime) -> set[date]:
    """The days of raising of the incidents changed since ``since`` (every write bumps
    ``updated_at``, read off its index): the days whose roll-up is out of date."""
    return set(
        Incident.objects.filter(updated_at__gte=since)
        .order_by()
        .annotate(day=local_date_of("created_at"))
        .values_list("day", flat=True)
        .distinct()
    )


def incident_days_rebuild(days: Iterable[date]) -> int:
    """Recompute ``IncidentDay`` for ``days``: one aggregate query per run of consecutive
    days over the incidents raised in it (the ``created_at`` index). Returns rows written."""
    written = 0
    for first, last in day_runs(set(days)):
        IncidentDay.objects.filter(day__gte=first, day__lte=last).delete()
        qs = Incident.objects.filter(
            created_at__gte=midnight(first), created_at__lt=midnight(last + timedelta(days=1))
        ).annotate(
            day=local_date_of("created_at"),
            rs=Seconds("responded_at", "created_at"),
            ss=Seconds("resolved_at", "created_at"),
        )
        aggs: dict[str, Any] = {
            "raised": Count("id"),
            "resolved_once": Count(
                "id", filter=Q(resolved_at__isnull=False) | Q(reopen_count__gt=0)
            ),
            "reopened": Count("id", filter=Q(reopen_count__gt=0)),
            "respond_n": Count("id", filter=Q(responded_at__isnull=False)),
            "respond_sum": Sum("rs"),
            "respond_max": Max("rs"),
            "resolve_n": Count("id", filter=Q(resolved_at__isnull=False)),
            "resolve_sum": Sum("ss"),
            "resolve_max": Max("ss"),
        }
        for i, cond in enumerate(duration_band_filters("rs")):
            aggs[f"respond_{i}"] = Count("id", filter=cond)
        for i, cond in enumerate(duration_band_filters("ss")):
            aggs[f"resolve_{i}"] = Count("id", filter=cond)
        rows = (
            qs.order_by()
            .values("day", "service_id", "team_id", "priority")
            .annotate(**aggs)
            .iterator(chunk_size=_BATCH)
        )
        batch = []
        for r in rows:
            r["respond_sum"] = r["respond_sum"] or 0.0
            r["resolve_sum"] = r["resolve_sum"] or 0.0
            batch.append(IncidentDay(**r))
            if len(batch) >= _BATCH:
                written += len(IncidentDay.objects.bulk_create(batch))
                batch = []
        written += len(IncidentDay.objects.bulk_create(batch))
        written += rollup_totals_write(
            IncidentDay.objects.filter(day__gte=first, day__lte=last), "priority"
        )
    return written


_GROUP = ("service_id", "team_id", "priority", "tier")


def backlog_days_rebuild(first: date, last: date) -> int:
    """Recompute ``IncidentBacklogDay`` for ``first`` … ``last`` from the incidents as they
    are now: those open at the start of ``first`` (raised before it, not resolved by then),
    then, day by day, plus the day's raised and minus the day's resolved, per service,
    team, priority and tier. Three aggregate queries whatever the number of days; cancelled
    incidents never count (they keep no cancel time). Returns rows written."""
    start, end = midnight(first), midnight(last + timedelta(days=1))
    live = Incident.objects.exclude(status=CANCELLED).order_by()
    open_now: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in (
        live.filter(created_at__lt=start)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .values(*_GROUP)
        .annotate(n=Count("id"))
    ):
        open_now[tuple(r[k] for k in _GROUP)] = r["n"]
    moves: dict[date, dict[tuple[Any, ...], int]] = defaultdict(lambda: defaultdict(int))
    for column, sign in (("created_at", 1), ("resolved_at", -1)):
        for r in (
            live.filter(**{f"{column}__gte": start, f"{column}__lt": end})
            .annotate(day=local_date_of(column))
            .values("day", *_GROUP)
            .annotate(n=Count("id"))
        ):
            moves[r["day"]][tuple(r[k] for k in _GROUP)] += sign * r["n"]
    IncidentBacklogDay.objects.filter(day__gte=first, day__lte=last).delete()
    written, batch = 0, []
    for day in days_between(first, last):
        for key, n in moves.get(day, {}).items():
            open_now[key] += n
        for key, n in open_now.items():
            if n > 0:
                batch.append(
                    IncidentBacklogDay(day=day, open=n, **dict(zip(_GROUP, key, strict=True)))
                )
        if len(batch) >= _BATCH:
            written += len(IncidentBacklogDay.objects.bulk_create(batch))
            batch = []
    written += len(IncidentBacklogDay.objects.bulk_create(batch))
    return written
