"""Bring the dashboards' daily roll-ups up to date (docs/decisions.md, issue 16).

The figures read ``itsm.IncidentDay``, ``itsm.IncidentBacklogDay`` and ``sla.SlaClockDay``
instead of the incident and clock tables, so a dashboard costs the same at a thousand
incidents and at a million. ``facts_collect`` writes them: a full run recomputes every day
since the first incident; a regular run (Celery beat, every ``DASHBOARDS_COLLECT_SECONDS``)
recomputes only the days whose incidents changed since the last run, today's backlog, and
the SLA clocks of the last ``CLOCK_RECENT_DAYS`` days (the first run of a day: every clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.dashboards import days_between, local_day
from dashboards.models import FactsRun
from itsm import facts as incident_facts
from itsm.models import IncidentBacklogDay, IncidentDay
from sla import facts as clock_facts
from sla.models import SlaClockDay

# Read changes from a little before the last run started: a transaction that stamped its
# incident before that run read, but committed after, is still seen.
COLLECT_OVERLAP = timedelta(minutes=5)
# A clock changes (met, breached) while it runs, and the clock table has no index to find
# the changed ones: the runs recompute the clocks started in these last days (longer than
# any resolution target), and the older days of the incidents changed.
CLOCK_RECENT_DAYS = 35


@dataclass(frozen=True)
class Collected:
    days: int
    rows: int
    skipped: bool = False


def facts_collect(*, full: bool = False, now: datetime | None = None) -> Collected:
    """Bring the roll-ups up to date, in one transaction. Another run holding the lock
    makes this one return at once (``skipped``): it is doing the same work."""
    now = now or timezone.now()
    today = local_day(now)
    with transaction.atomic():
        run = FactsRun.objects.select_for_update(skip_locked=True).filter(key="facts").first()
        if run is None:
            run, made = FactsRun.objects.get_or_create(
                key="facts", defaults={"started_at": now, "finished_at": now}
            )
            if not made:  # held by another run
                return Collected(0, 0, skipped=True)
            full = True
        first = incident_facts.first_incident_day() or today
        if full:
            changed = set(days_between(min(first, today), today))
            backlog_from = min(first, today)
        else:
            since = run.started_at - COLLECT_OVERLAP
            changed = incident_facts.changed_incident_days(since)
            changed |= set(days_between(min(local_day(since), today), today))
            backlog_from = min(local_day(run.started_at), today)
        if full or local_day(run.started_at) < today:
            # the first run of a day reads every clock once: a clock older than the recent
            # days that changed without its incident (a request's, say) is caught by then
            clock_days = set(
                days_between(min(first, today - timedelta(days=CLOCK_RECENT_DAYS)), today)
            )
        else:
            clock_days = changed | set(
                days_between(today - timedelta(days=CLOCK_RECENT_DAYS), today)
            )
        rows = incident_facts.incident_days_rebuild(changed)
        rows += incident_facts.backlog_days_rebuild(backlog_from, today)
        rows += clock_facts.clock_days_rebuild(clock_days)
        FactsRun.objects.filter(key="facts").update(
            started_at=now, finished_at=timezone.now(), days=len(changed), rows=rows
        )
    return Collected(len(changed), rows)


def facts_tables_vacuum() -> bool:
    """After a full run, which rewrote every roll-up row: VACUUM (ANALYZE) the roll-ups on
    PostgreSQL, so the planner knows them and the index-only scans (top services) read no
    heap page; autovacuum would come to it later. Not in a transaction (VACUUM cannot);
    returns whether it ran."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    tables = [m._meta.db_table for m in (IncidentDay, IncidentBacklogDay, SlaClockDay)]
    with connection.cursor() as cur:
        cur.execute(f"VACUUM (ANALYZE) {', '.join(map(connection.ops.quote_name, tables))}")
    return True


def facts_as_of() -> datetime | None:
    """When the figures' roll-ups were last collected (the pages say so)."""
    return FactsRun.objects.filter(key="facts").values_list("started_at", flat=True).first()


def facts_rebuild_days(first: date, last: date) -> Collected:
    """Recompute every roll-up of ``first`` … ``last`` (tests and imports that rewrite
    history): the backlog from the incidents as they are now."""
    days = days_between(first, last)
    with transaction.atomic():
        rows = incident_facts.incident_days_rebuild(days)
        rows += incident_facts.backlog_days_rebuild(first, last)
        rows += clock_facts.clock_days_rebuild(days)
    return Collected(len(days), rows)
