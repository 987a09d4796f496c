"""What every dashboard figure shares: the filter (period, service, team) and its time
buckets, the figure itself (labels × series, drawn by Chart.js, read as a table, exported
as CSV), the brief cache, the duration bands of the daily roll-ups and their percentile,
and the pieces the roll-ups and figures share (days, buckets, durations in the database).

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
from django.db.models import F, FloatField, Func, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import HttpResponse
from django.utils import timezone

from core.models import Service, Team

CACHE_SECONDS = 60
CACHE_PREFIX = "dash"  # the figures' cache keys: "<prefix>:<figure>:<filter>"
PERIODS = [(30, "Last 30 days"), (90, "Last 90 days"), (180, "Last 6 months"), (365, "Last year")]
DEFAULT_PERIOD = 90
MONTHLY_FROM = 180  # periods this long or longer are bucketed by month, shorter ones by week
# The bands of a duration histogram (seconds; each band [previous bound, bound), the last
# one open-ended): the roll-ups keep a count per band, and a percentile is read off them
# (``histogram_percentile``). About 1.5× apart: a percentile lands within its band.
DURATION_BOUNDS: tuple[int, ...] = tuple(
    int(minutes * 60)
    for minutes in (
        *(5, 10, 15, 30, 45),
        *(h * 60 for h in (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48, 72, 96, 120)),
        *(d * 1440 for d in (7, 10, 14, 21, 30)),
    )
)
DURATION_BANDS = len(DURATION_BOUNDS) + 1


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


def midnight(day: date) -> datetime:
    """The start of ``day`` in the current time zone."""
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
            buckets.append(Bucket(f"{day:%d %b}", midnight(day), midnight(nxt)))
            day = nxt
    else:
        day = first.replace(day=1)
        while day <= today:
            nxt = (day + timedelta(days=32)).replace(day=1)
            buckets.append(Bucket(f"{day:%b %Y}", midnight(day), midnight(nxt)))
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
    (``dashboards.tasks.dashboards_collect``, which keeps the default filter's warm)."""
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


def rollup_rows(model: type[Any], filters: Filters, *, per_service: bool = False) -> QuerySet[Any]:
    """A daily roll-up's rows (``day``, ``total``, ``service_id``, ``team_id``) of the
    filter's period: the days' totals when neither service nor team is asked for (and the
    figure is not ``per_service``), a team's totals when only the team is, else the rows of
    that service (and team)."""
    qs = model.objects.filter(day__gte=filters.start.date(), day__lt=filters.end.date())
    if not (filters.service_id or per_service):
        return qs.filter(total=True, team_id=filters.team_id)  # None: the day's total
    qs = qs.filter(total=False)
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    return qs


def rollup_totals_write(detail: QuerySet[Any], key: str) -> int:
    """Write the total rows of a daily roll-up from its detail rows ``detail`` (just
    written): per day and ``key``, one row over every service and team, and one per team
    over every service (service empty). Every other column is a measure, folded by ``MAX``
    when it is a largest (``…_max``), else by ``SUM``. Two ``INSERT … SELECT``, the SELECT
    built by the ORM (the rows never come through Python); returns the rows written."""
    from django.db import connection
    from django.db.models import Max, Sum, Value

    model = detail.model
    qn = connection.ops.quote_name
    keys = {"id", "day", "total", "service_id", "team_id", key}
    measures = [f.name for f in model._meta.concrete_fields if f.name not in keys]
    aggs = {f"m_{n}": (Max if n.endswith("_max") else Sum)(n) for n in measures}
    detail = detail.filter(total=False).order_by()
    written = 0
    for group, rows in (
        (("day", key), detail),
        (("day", "team_id", key), detail.filter(team_id__isnull=False)),
    ):
        select = (
            rows.values(*group)
            .annotate(m_total=Value(True), **aggs)
            .values_list(*group, "m_total", *aggs)  # in this order (Django 5.2 keeps it)
        )
        columns = [model._meta.get_field(n).column for n in (*group, "total", *measures)]
        sql, params = select.query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(map(qn, columns))}) {sql}",
                params,
            )
            written += cur.rowcount
    return written


def bucket_sums(
    qs: QuerySet[Any], buckets: Sequence[Bucket], *fields: str, group: str | None = None
) -> list[dict[str, Any]]:
    """One pass over daily roll-up rows (``day``): the sum of each field per bucket
    (``<field><i>``), grouped by ``group`` when given."""
    from django.db.models import Sum

    aggs: dict[str, Any] = {}
    for i, b in enumerate(buckets):
        inside = Q(day__gte=b.start.date(), day__lt=b.end.date())
        for name in fields:
            aggs[f"{name}{i}"] = Sum(name, filter=inside, default=0)
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


def duration_band_filters(column: str) -> list[Q]:
    """One condition per band of ``DURATION_BOUNDS`` on ``column`` (seconds, annotated):
    what a roll-up counts, one ``COUNT … FILTER`` per band."""
    lows = (0, *DURATION_BOUNDS)
    conds = [
        Q(**{f"{column}__gte": lo, f"{column}__lt": hi})
        for lo, hi in zip(lows, DURATION_BOUNDS, strict=False)
    ]
    return [*conds, Q(**{f"{column}__gte": DURATION_BOUNDS[-1]})]


def histogram_percentile(
    counts: Sequence[int], fraction: float, largest: float | None = None
) -> float | None:
    """The ``fraction`` percentile of durations counted per band of ``DURATION_BOUNDS``,
    by Prometheus' ``histogram_quantile`` rule: the band holding the rank, interpolated
    linearly inside it (the open last band answers its lower bound); never above
    ``largest``, the greatest duration seen, when known. The answer lies in the band of the
    incident at that rank: an exact ``percentile_cont`` would need every duration, which a
    daily roll-up cannot keep."""
    total = sum(counts)
    if not total:
        return None
    rank = fraction * total
    lows = (0, *DURATION_BOUNDS)
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            if i == len(DURATION_BOUNDS):
                value = float(lows[i])
            else:
                value = lows[i] + (DURATION_BOUNDS[i] - lows[i]) * (rank - seen) / n
            return min(value, largest) if largest is not None else value
        seen += n
    return float(lows[-1])


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_runs(days: Sequence[date] | set[date]) -> list[tuple[date, date]]:
    """Days as runs of consecutive days (first, last): one query per run."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def local_date_of(column: str) -> TruncDate:
    """``column``'s date in the current time zone, in the database: the roll-ups' day."""
    return TruncDate(column, tzinfo=timezone.get_current_timezone())
