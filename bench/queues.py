#!/usr/bin/env python
"""Queue benchmark: do the agent's queues and the incident list API cost the same at
10 000 and at 1 000 000 incidents, for every filter and ordering they offer?

Runs against a database that is already loaded (``bench/seed.py``), in-process through
Django's test client signed in as an agent, so it measures the request's own cost (SQL and
Python) without HTTP or a load generator (``bench/load.py`` does that). For each URL: the
median and slowest of ``--runs`` runs after a warm-up, the median CPU time of this process
(Python and the driver, not the database), the SQL statements, and the slowest
statement; ``--explain`` adds the EXPLAIN ANALYZE of each URL's slowest statement, and
flags a plan that sorts or scans the whole table.

    .venv/bin/python bench/queues.py --db tandem_1m              # the seeded million
    .venv/bin/python bench/queues.py --db tandem_100k --explain
    .venv/bin/python bench/queues.py --db tandem_1m --only api   # URLs containing "api"

The database is on the server of DATABASE_URL (default 127.0.0.1:5432); nothing is written
but the session of the signed-in user.
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

ORDERINGS = ["", "priority", "-priority", "created_at", "-updated_at", "status", "number", "sla"]


def urls(team_ids: list[int], key: str) -> list[str]:
    """What an agent's day asks of the queues: each team queue, my work, unassigned, every
    ordering, the filters a queue offers, a deep page; the API's list the same way."""
    desk = [f"/desk/?queue=team-{t}" for t in team_ids[:3]]
    t = team_ids[0]
    desk += ["/desk/?queue=mine", "/desk/?queue=unassigned", "/desk/?queue=all"]
    desk += [f"/desk/?queue=team-{t}&ordering={o}" for o in ORDERINGS if o]
    desk += [
        f"/desk/?queue=team-{t}&status=in_progress",
        f"/desk/?queue=team-{t}&priority=1&priority=2",
        f"/desk/?queue=team-{t}&unassigned=true",
        f"/desk/?queue=team-{t}&sla=breached",
        f"/desk/?queue=team-{t}&sla=at_risk",
        f"/desk/?queue=team-{t}&sla=at_risk&ordering=sla",
        "/desk/?queue=all&sla=breached",
        f"/desk/?queue=team-{t}&q=printer",
        f"/desk/?queue=team-{t}&older_than_days=30",
        f"/desk/?queue=team-{t}&page=40",
    ]
    api = ["/api/v1/incidents/", "/api/v1/incidents/?status=in_progress&ordering=priority"]
    api += [f"/api/v1/incidents/?ordering={o}" for o in ORDERINGS if o]
    api += [
        f"/api/v1/incidents/?team={t}&status=new",
        "/api/v1/incidents/?priority=1",
        "/api/v1/incidents/?sla=breached",
        f"/api/v1/incidents/?team={t}&sla=at_risk&ordering=sla",
        "/api/v1/incidents/?page=400",
        f"/api/v1/incidents/{key}/",
    ]
    return desk + api + [f"/incidents/{key}/"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="tandem_1m", help="the loaded database's name")
    parser.add_argument("--user", default="", help="the agent to sign in as (default: one)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest SQL")
    parser.add_argument("--only", default="", help="only URLs containing this text")
    parser.add_argument("--sql", action="store_true", help="list every statement with its time")
    parser.add_argument("--profile", action="store_true", help="cProfile each URL")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (tottime …)")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    os.environ["DATABASE_URL"] = f"{server.rsplit('/', 1)[0]}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    run(args)


def run(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from core.models import Team
    from core.roles import Role
    from itsm.models import Incident

    settings.ALLOWED_HOSTS = ["*"]
    users = get_user_model().objects
    agents = users.filter(
        groups__name=Role.SERVICE_DESK_AGENT, tandem_teams__isnull=False
    ).order_by("pk")
    agent = users.get(username=args.user) if args.user else agents.first()
    teams = list(Team.objects.filter(members=agent).values_list("pk", flat=True))
    teams += list(Team.objects.exclude(pk__in=teams).values_list("pk", flat=True)[:2])
    total = Incident.objects.order_by().count()
    busy = Incident.objects.filter(status="in_progress").order_by("-id").first()
    print(f"database {args.db}: {total:,} incidents · agent {agent.username} · teams {teams[:3]}")
    client = Client()
    client.force_login(agent)
    print(f"{'URL':<64} {'median':>8} {'slowest':>8} {'CPU':>8} {'SQL':>4}  slowest statement")
    for url in urls(teams, busy.key if busy else "INC-1"):
        if args.only and args.only not in url:
            continue
        client.get(url)  # warm-up
        times, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            with CaptureQueriesContext(connection) as ctx:
                res = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            # this process's CPU only (Python, the driver): the database's work is not in
            # it, nor the time the busy machine makes the process wait
            cpu.append((time.process_time() - c0) * 1000)
        slow = max(ctx.captured_queries, key=lambda q: float(q["time"]), default=None)
        note = f"{float(slow['time']) * 1000:.1f} ms {slow['sql'][:60]}" if slow else ""
        status = "" if res.status_code == 200 else f" [{res.status_code}]"
        print(
            f"{url[:64]:<64} {statistics.median(times):>6.1f}ms {max(times):>6.1f}ms "
            f"{statistics.median(cpu):>6.1f}ms {len(ctx.captured_queries):>4}  {note}{status}"
        )
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(client.get, url)
            pstats.Stats(prof).sort_stats(args.sort).print_stats(45)
        if args.sql:
            for q in ctx.captured_queries:
                print(f"    {float(q['time']) * 1000:7.1f} ms  {q['sql'][:150]}")
        if args.explain and slow and connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slow['sql']}")
                plan = [row[0] for row in cur.fetchall()]
            whole = any("Seq Scan on itsm_incident " in line for line in plan)
            print("    " + "\n    ".join(plan[:25] + plan[-3:]))
            if whole:
                print("    !! scans the whole incident table")


if __name__ == "__main__":
    main()
