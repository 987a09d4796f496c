"""Write the dashboards' SLA roll-up (``sla.models.SlaClockDay``) from the clock table.

Called by ``dashboards.services.facts_collect`` inside its transaction; replaces the rows
of the days it is given, so it is safe to run twice. The clock table has no index on
``started_at`` (it keeps only its sweep's: issue 13), so the days asked for are read in
one pass over the clocks whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Count, Q

from core.dashboards import local_date_of, midnight, rollup_totals_write
from sla.models import SlaClock, SlaClockDay


def clock_days_rebuild(days: Iterable[date]) -> int:
    """Recompute ``SlaClockDay`` for ``days``: the clocks started on each, by service, team
    and target, met and breached as they are now. Returns rows written."""
    days = sorted(set(days))
    if not days:
        return 0
    day = local_date_of("started_at")
    qs = (
        SlaClock.objects.filter(
            started_at__gte=midnight(days[0]), started_at__lt=midnight(days[-1] + timedelta(days=1))
        )
        .exclude(state="cancelled")
        .annotate(day=day)
    )
    one_run = len(days) == (days[-1] - days[0]).days + 1
    # the roll-up's rows of those days: a range when they are one run (a full run's
    # thousand days as two parameters), else the days themselves
    mine = Q(day__gte=days[0], day__lte=days[-1]) if one_run else Q(day__in=days)
    if not one_run:  # only the days asked for
        qs = qs.filter(day__in=days)
    rows = (
        qs.order_by()
        .values("day", "service_id", "team_id", "target")
        .annotate(
            met=Count("id", filter=Q(breached=False, stopped_at__isnull=False)),
            breached=Count("id", filter=Q(breached=True)),
        )
    )
    SlaClockDay.objects.filter(mine).delete()
    detail = [SlaClockDay(**r) for r in rows if r["met"] or r["breached"]]
    written = len(SlaClockDay.objects.bulk_create(detail, batch_size=5_000))
    return written + rollup_totals_write(SlaClockDay.objects.filter(mine), "target")
