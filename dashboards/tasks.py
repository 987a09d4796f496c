from celery import shared_task

from core.dashboards import cached_figure, parse_filters
from dashboards.figures import FIGURES
from dashboards.services import facts_collect


@shared_task(name="dashboards.tasks.dashboards_collect")
def dashboards_collect() -> dict[str, int]:
    """Bring the dashboards' daily roll-ups up to date (``dashboards.services``), then
    compute the figures every dashboard opens on (its default filter: the last 90 days,
    every service and team) so those pages are read from the cache. Safe to run twice: a
    run recomputes whole days, and a second run while one holds the lock skips."""
    done = facts_collect()
    if not done.skipped:
        _form, filters = parse_filters({})
        for name, build in FIGURES.items():
            cached_figure(name, filters, build, refresh=True)
    return {"days": done.days, "rows": done.rows, "skipped": int(done.skipped)}
