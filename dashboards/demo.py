"""The demo's dashboards: their roll-ups computed from the demo's history at once, so the
charts show it before Celery beat's first collection."""

from __future__ import annotations

from typing import TextIO

from dashboards.services import facts_collect


def seed(stdout: TextIO) -> None:
    done = facts_collect(full=True)
    stdout.write(f"  dashboards: {done.days} days of roll-ups, {done.rows} rows")
