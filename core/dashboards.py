"""What every dashboard figure shares: the filter (period, service, team) and its time
buckets, the figure itself (labels × series, drawn by Chart.js, read as a table, exported
as CSV), the brief cache, and the database pieces for durations and percentiles.

The figures are built by each owning app's reports module (``sla.reports``,
``itsm.reports``, ``projects.reports``, ``knowledge.selectors``); the pages that show them
are ``dashboards.views``. Core imports none of them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, F, FloatField, Func, Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone

from core.models import Service, Team

CACHE_SECONDS = 60
CACHE_PREFIX = "dash"  # the figures' cache keys: "<prefix>:<figure>:<filter>"
PERIODS = [(30, "Last 30 days"), (90, "Last 90 days"), (180, "Last 6 months"), (365, "Last year")]
DEFAULT_PERIOD = 90
MONTHLY_FROM = 180  # periods this long or longer are bucketed by month, shorter ones by week
SQLITE_PERCENTILE_ROWS = 50_000  # the bounded read a percentile falls back on (not PostgreSQL)


class DashboardFilterForm(forms.Form):
    """The GET form every dashboard shares: the URL holds the filter."""

    period = forms.TypedChoiceField(
        choices=PERIODS, coerce=int, required=False, initial=DEFAULT_PERIOD
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"), required=False, empty_label="Any service"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("tier", "name"), required=False, empty_label="Any team"
    )


@dataclass(frozen=True)
class Bucket:
    label: str
    start: datetime
    end: datetime  # exclusive


@dataclass(frozen=True)
class Filters:
    """A dashboard's filter, resolved: the period [start, end) cut into buckets, and the
    service and team ids (None: any)."""

    days: int
    start: datetime
    end: datetime
    buckets: tuple[Bucket, ...]
    service_id: int | None = None
    team_id: int | None = None

    @property
    def cache_key(self) -> str:
        raw = f"{self.days}:{self.start.isoformat()}:{self.service_id}:{self.team_id}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def query(self, **extra: Any) -> str:
        """The filter as a query string (what a figure's CSV link and the form keep)."""
        from urllib.parse import urlencode

        params: dict[str, Any] = {"period": self.days}
        if self.service_id:
            params["service"] = self.service_id
        if self.team_id:
            params["team"] = self.team_id
        params.update(extra)
        return urlencode(params)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def period_buckets(days: int, today: date) -> tuple[datetime, datetime, tuple[Bucket, ...]]:
    """The period ending with ``today`` (inclusive), widened back to a whole first bucket:
    ISO weeks (Monday first) below ``MONTHLY_FROM`` days, calendar months from there."""
    first = today - timedelta(days=days - 1)
    buckets: list[Bucket] = []
    if days < MONTHLY_FROM:
        day = first - timedelta(days=first.weekday())
        while day <= today:
            nxt = day + timedelta(days=7)
            buckets.append(Bucket(f"{day:%d %b}", _midnight(day), _midnight(nxt)))
            day = nxt
    else:
        day = first.replace(day=1)
        while day <= today:
            nxt = (day + timedelta(days=32)).replace(day=1)
            buckets.append(Bucket(f"{day:%b %Y}", _midnight(day), _midnight(nxt)))
            day = nxt
    return buckets[0].start, buckets[-1].end, tuple(buckets)


def parse_filters(params: Any, today: date | None = None) -> tuple[DashboardFilterForm, Filters]:
    """The form bound to the GET parameters and the filter it stands for. A value that
    does not parse (an unknown period, service or team) is a 400 (``ValidationFailed``)."""
    from core.exceptions import ValidationFailed

    data = params.copy() if hasattr(params, "copy") else dict(params)
    if not data.get("period"):
        # a bound form shows what it was given, not its initial: the select must say the
        # period the figures are for (90 days when the URL names none)
        data["period"] = str(DEFAULT_PERIOD)
    form = DashboardFilterForm(data)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        raise ValidationFailed(f"{name}: {errors[0]}", field=name)
    days = form.cleaned_data.get("period") or DEFAULT_PERIOD
    start, end, buckets = period_buckets(days, today or timezone.localdate())
    service, team = form.cleaned_data.get("service"), form.cleaned_data.get("team")
    return form, Filters(
        days, start, end, buckets, service.pk if service else None, team.pk if team else None
    )


@dataclass
class Series:
    label: str
    values: list[float | int | None]


@dataclass
class Figure:
    """One chart: ``labels`` along one axis, one value per label in each series. ``link``
    is the list behind the whole chart; ``links`` (optional) the list behind each label."""

    key: str
    title: str
    kind: str  # "line" or "bar" (Chart.js types)
    axis: str  # what the labels are ("Week", "Priority", "Service"...)
    labels: list[str]
    series: list[Series]
    unit: str = ""
    link: str = ""
    links: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def rows(self) -> list[tuple[str, str, list[Any]]]:
        """(label, the list behind it or "", one value per series): the table view."""
        return [
            (
                label,
                self.links[i] if i < len(self.links) else "",
                [s.values[i] for s in self.series],
            )
            for i, label in enumerate(self.labels)
        ]

    def chart_data(self) -> dict[str, Any]:
        """What ``static/js/charts.js`` reads (through ``json_script``)."""
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": [{"label": s.label, "data": s.values} for s in self.series],
            "unit": self.unit,
            "links": self.links,
        }

    def csv_response(self) -> HttpResponse:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([self.axis, *[s.label for s in self.series]])
        for label, _href, values in self.rows:
            writer.writerow([label, *["" if v is None else v for v in values]])
        name = f"{self.key}-{timezone.localdate():%Y-%m-%d}.csv"
        response = HttpResponse(out.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


def cached_figure(
    key: str, filters: Filters, build: Callable[[Filters], Figure], *, refresh: bool = False
) -> Figure:
    """The figure for this filter, computed at most once a ``CACHE_SECONDS`` (the page and
    its CSV share it, so an export is the chart's numbers); ``refresh`` computes it anew
    (``dashboards.tasks.dashboards_warm``, which keeps the default filter's warm)."""
    cache_key = f"{CACHE_PREFIX}:{key}:{filters.cache_key}"
    figure = None if refresh else cache.get(cache_key)
    if figure is None:
        if refresh:
            cache.delete(f"{CACHE_PREFIX}:backlog_rows:{filters.cache_key}")
        figure = build(filters)
        cache.set(cache_key, figure, CACHE_SECONDS)
    return figure


def bucket_counts(
    qs: QuerySet[Any], column: str, buckets: Sequence[Bucket], group: str | None = None, **extra: Q
) -> list[dict[str, Any]]:
    """One pass over ``qs``: a count per bucket of ``column`` (``b<i>``), and of each extra
    condition within the bucket (``<name><i>``), grouped by ``group`` when given."""
    from django.db.models import Count

    aggs: dict[str, Any] = {}
    for i, b in enumerate(buckets):
        inside = Q(**{f"{column}__gte": b.start, f"{column}__lt": b.end})
        aggs[f"b{i}"] = Count("id", filter=inside)
        for name, cond in extra.items():
            aggs[f"{name}{i}"] = Count("id", filter=inside & cond)
    if group is None:
        return [qs.aggregate(**aggs)]
    return list(qs.order_by().values(group).annotate(**aggs).order_by(group))


def percent(part: int | None, whole: int | None) -> float | None:
    return round(100 * (part or 0) / whole, 1) if whole else None


class Seconds(Func):
    """``end - start`` in seconds, as a float, in the database."""

    output_field = FloatField()
    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"

    def __init__(self, end: str, start: str) -> None:
        super().__init__(F(end), F(start))

    def as_sqlite(self, compiler: Any, conn: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            conn,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(p) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def supports_percentile() -> bool:
    return connection.vendor == "postgresql"


def percentile_in_python(values: Sequence[float], fraction: float) -> float | None:
    """``percentile_cont`` (linear interpolation) over sorted ``values``: the fallback on a
    database without it (SQLite), over a bounded read."""
    if not values:
        return None
    rank = fraction * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)
