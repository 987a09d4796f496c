#!/usr/bin/env python
"""Dashboard benchmark: how long does each dashboard take to render on a loaded database,
with its figures computed (cache cold) and from the cache (warm)?

Runs against the database of DATABASE_URL as it is (``bench/seed.py`` loads one), in-process
through Django's test client signed in as an administrator (who may open every dashboard),
with a local-memory cache so a cold run really computes every figure. For each dashboard and
filter: the median and slowest of ``--runs`` cold renders, the median warm render, the SQL
statements, and the slowest statement with its figure's table; ``--explain`` adds the
EXPLAIN ANALYZE of each cold render's slowest statement; ``--sql`` lists every statement.

    DATABASE_URL=postgres://root@127.0.0.1:5432/tandem_1m .venv/bin/python bench/dashboards.py
    DATABASE_URL=... .venv/bin/python bench/dashboards.py --only desk --explain

The figures are summed from the daily roll-ups (``dashboards.services``; ``bench/seed.py``
collects them in full after its load): first the script times one regular collection, as
Celery beat runs it every minute (the days changed since the last one, today's backlog, the
last weeks' SLA clocks); ``--no-collect`` skips it. Nothing else is written but the session
of the signed-in user. Target (issue 16): under 300 ms per dashboard, cold, at 1 000 000
incidents.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="admin", help="who signs in (default: admin)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="only dashboards whose key contains this")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest SQL")
    parser.add_argument("--sql", action="store_true", help="list every statement with its time")
    parser.add_argument("--no-collect", action="store_true", help="skip the timed collection")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    run(args)


def run(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Count
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from core.models import Team, Tier
    from dashboards.figures import DASHBOARDS
    from itsm.models import Incident

    settings.ALLOWED_HOSTS = ["*"]
    user = get_user_model().objects.get(username=args.user)
    total = Incident.objects.order_by().count()
    busiest = Incident.objects.order_by().values("service_id").annotate(n=Count("id"))
    service = max(busiest, key=lambda r: r["n"])["service_id"] if total else None
    desk = Team.objects.filter(tier=Tier.SERVICE_DESK).order_by("pk").first()
    dev = Team.objects.filter(tier=Tier.DEVELOPMENT).order_by("pk").first()
    print(f"{connection.settings_dict['NAME']}: {total:,} incidents · signed in as {user}")
    if not args.no_collect:
        from dashboards.services import facts_collect

        t0 = time.perf_counter()
        done = facts_collect()
        print(
            f"a regular collection of the roll-ups: {(time.perf_counter() - t0) * 1000:.0f} ms "
            f"({done.days} days, {done.rows:,} rows)"
        )
    variants = ["", "period=365", f"service={service}", f"team={desk.pk if desk else ''}"]
    client = Client()
    client.force_login(user)
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    print(f"{'URL':<44} {'cold':>8} {'slowest':>8} {'warm':>7} {'SQL':>4}  slowest statement")
    with override_settings(CACHES=local):
        for key, dashboard in DASHBOARDS.items():
            if args.only and args.only not in key:
                continue
            extra = [f"team={dev.pk}"] if key == "projects" and dev else []
            for query in variants + extra:
                url = f"{dashboard.url}?{query}" if query else dashboard.url
                cold, warm = [], []
                for _ in range(args.runs):
                    cache.clear()
                    t0 = time.perf_counter()
                    with CaptureQueriesContext(connection) as ctx:
                        res = client.get(url, secure=True)
                    # read now: the next request's start empties the connection's log
                    queries = list(ctx.captured_queries)
                    cold.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    client.get(url, secure=True)
                    warm.append((time.perf_counter() - t0) * 1000)
                slow = max(queries, key=lambda q: float(q["time"]), default=None)
                note = f"{float(slow['time']) * 1000:.1f} ms {slow['sql'][:48]}" if slow else ""
                status = "" if res.status_code == 200 else f" [{res.status_code}]"
                print(
                    f"{url[:44]:<44} {statistics.median(cold):>6.1f}ms {max(cold):>6.1f}ms "
                    f"{statistics.median(warm):>5.1f}ms {len(queries):>4}  "
                    f"{note}{status}"
                )
                if args.sql:
                    for q in queries:
                        print(f"    {float(q['time']) * 1000:7.1f} ms  {q['sql'][:150]}")
                if args.explain and slow and connection.vendor == "postgresql":
                    with connection.cursor() as cur:
                        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slow['sql']}")
                        print("    " + "\n    ".join(row[0] for row in cur.fetchall()))


if __name__ == "__main__":
    main()
