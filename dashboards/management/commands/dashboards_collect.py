"""Bring the dashboards' roll-ups up to date now (Celery beat does it every
``DASHBOARDS_COLLECT_SECONDS``); ``--full`` recomputes every day since the first incident,
after an import or a restore."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from dashboards.services import facts_collect, facts_tables_vacuum


class Command(BaseCommand):
    help = "Collect the dashboards' daily roll-ups (--full: every day since the first incident)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--full", action="store_true", help="recompute every day")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        done = facts_collect(full=options["full"])
        if done.skipped:
            self.stdout.write("Another collection is running; nothing done.")
            return
        seconds = time.perf_counter() - t0
        self.stdout.write(f"{done.days} days recomputed, {done.rows} rows, in {seconds:.1f} s")
        if options["full"] and facts_tables_vacuum():
            self.stdout.write(
                f"Roll-up tables vacuumed, in {time.perf_counter() - t0 - seconds:.1f} s"
            )
