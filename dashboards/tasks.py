from celery import shared_task

from core.dashboards import cached_figure, parse_filters
from dashboards.figures import FIGURES


@shared_task(name="dashboards.tasks.dashboards_warm")
def dashboards_warm() -> int:
    """Compute the figures every dashboard opens on (its default filter: the last 90 days,
    every service and team) ahead of the people who open them, so those pages are read from
    the cache; a filtered page computes its own (docs/decisions.md, issue 16). Safe to run
    twice: it only refreshes cache entries."""
    _form, filters = parse_filters({})
    for name, build in FIGURES.items():
        cached_figure(name, filters, build, refresh=True)
    return len(FIGURES)
