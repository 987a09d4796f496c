#!/usr/bin/env python
"""Create-incident API and incident API detail, in process: µs and SQL statements per request.

    .venv/bin/python bench/create_detail.py              # 2 000 creates, 2 000 details
    .venv/bin/python bench/create_detail.py --n 500 --sqlite

Drives ``POST /api/v1/incidents/`` (a requester for themselves, and an agent on behalf of
a caller) and ``GET /api/v1/incidents/<id>/`` through DRF's test client with token auth:
the whole Django stack (middleware, authentication, serializers, services) without a web
server or network, so the figures are the application's own cost. Prints median and p95
µs per request and the SQL statements one request runs. The outbox is written as in
production; nothing is delivered (no worker).

Runs in a throwaway PostgreSQL database ``tandem_bench_create`` (env ``BENCH_DB``) on the
server of DATABASE_URL (default 127.0.0.1:5432), dropped afterwards unless --keep; or a
temporary SQLite file with --sqlite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB = os.environ.get("BENCH_DB", "tandem_bench_create")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="requests timed per endpoint")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB} database")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed requests")
    parser.add_argument("--sql", action="store_true", help="print the statements counted")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    base = server.rsplit("/", 1)[0]
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    else:
        _admin(base, f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
        os.environ["DATABASE_URL"] = f"{base}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        run(args)
    finally:
        if not args.sqlite and not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(base, f"DROP DATABASE IF EXISTS {DB}")


def _admin(base: str, *statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    conn.close()


def run(args: argparse.Namespace) -> None:
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from core.models import Service, Team, Tier
    from core.roles import Role
    from tests.factories import UserFactory

    requester = UserFactory(username="bench_requester", roles=[Role.REQUESTER])
    agent = UserFactory(username="bench_agent", roles=[Role.SERVICE_DESK_AGENT])
    Team.objects.create(name="Service Desk", tier=Tier.SERVICE_DESK).members.add(agent)
    service = Service.objects.create(name="Payroll")

    def client(user) -> APIClient:  # type: ignore[no-untyped-def]
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return c

    as_requester, as_agent = client(requester), client(agent)
    url = "/api/v1/incidents/"
    bodies = {
        "requester": (as_requester, {"title": "Payslip wrong", "service": service.pk}),
        "agent": (
            as_agent,
            {"title": "Caller: VPN down", "service": service.pk, "requester": requester.pk},
        ),
    }
    print(f"database: {connection.vendor} · n = {args.n:,} per endpoint")
    print(f"{'request':<34}{'median µs':>11}{'p95 µs':>10}{'SQL':>6}")
    created: list[int] = []
    # No broker in a benchmark: the outbox rows are written, their hand-off is a no-op.
    with mock.patch("core.services._dispatch_outbox"):
        for who, (c, body) in bodies.items():

            def create(c=c, body=body) -> None:  # type: ignore[no-untyped-def]
                res = c.post(url, body, format="json")
                assert res.status_code == 201, res.content
                created.append(res.json()["id"])

            _report(f"POST {url} ({who})", create, args, connection, CaptureQueriesContext)
        ids = iter(created * 2)

        def detail() -> None:
            res = as_agent.get(f"{url}{next(ids)}/")
            assert res.status_code == 200, res.content

        _report(f"GET {url}<id>/ (agent)", detail, args, connection, CaptureQueriesContext)


def _report(label, call, args, connection, capture) -> None:  # type: ignore[no-untyped-def]
    n = args.n
    for _ in range(min(50, n)):  # warm caches and code paths
        call()
    with capture(connection) as ctx:
        call()
    statements = len(ctx.captured_queries)
    if args.sql:
        print("\n".join(f"    {q['sql'][:110]}" for q in ctx.captured_queries))
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - t0) / 1000)
    times.sort()
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(lambda: [call() for _ in range(n)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"{label:<34}{statistics.median(times):>11.0f}{p95:>10.0f}{statements:>6}")


if __name__ == "__main__":
    main()
