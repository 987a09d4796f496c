#!/usr/bin/env python
"""What one ticket page costs: the incident page and the service-request page of a busy
ticket, as an agent sees them, rendered in-process by Django's test client (no HTTP server,
so the figures are the view's own: SQL, Python and the templates).

    .venv/bin/python bench/ticket_page.py                  # PostgreSQL, tandem_bench_page
    .venv/bin/python bench/ticket_page.py --incidents 5000 --requests 300
    .venv/bin/python bench/ticket_page.py --sql            # also list every statement
    .venv/bin/python bench/ticket_page.py --profile        # also the top of a cProfile
    .venv/bin/python bench/ticket_page.py --sqlite         # a temporary SQLite file instead
    .venv/bin/python bench/ticket_page.py --keep; … --reuse  # seed once, measure again

A throwaway PostgreSQL database (``BENCH_DB``, default ``tandem_bench_page``) on the server
of ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/test``) is created,
migrated, seeded (the demo organisation, ``--incidents`` incidents and ``--requests``
requests through the services, and one busy incident and request: 20 comments, about 30
audit rows, watchers, attachments, a linked problem and a defect) and dropped afterwards
(``--keep`` keeps it). Prints, per page, the median and p95 milliseconds of ``--rounds``
requests after a warm-up, the CPU time of this process per request (Python, templates and
the driver: the figure that least depends on what else the machine runs) and the SQL
statements per request.

Measured on the 2-core helper machine under load from other jobs (wall times vary 2x
between runs; CPU and SQL do not), 100 rounds, busy incident and request as an agent:
before issue 13 incident 57 SQL, 88-99 ms CPU; request 17 SQL, 27-37 ms CPU. After:
incident 31 SQL, 65-72 ms CPU; request 13 SQL, 20-22 ms CPU (Redis cache: 72 / 22).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "tandem_bench_page")


def _admin_connection():  # type: ignore[no-untyped-def]
    import psycopg2

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    base = server.rsplit("/", 1)[0]
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    return conn, base


def configure(args: argparse.Namespace) -> bool:
    """Point DATABASE_URL at a fresh database; False when ``--reuse`` found one seeded."""
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        return True
    conn, base = _admin_connection()
    os.environ["DATABASE_URL"] = f"{base}/{DB_NAME}"
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if args.reuse and cur.fetchone():
            conn.close()
            return False
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    conn.close()
    return True


def drop(args: argparse.Namespace) -> None:
    if args.sqlite or args.keep:
        return
    from django.db import connections

    connections.close_all()
    conn, _ = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
    conn.close()


def _upload(name: str, content: bytes):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/plain")


def seed(args: argparse.Namespace) -> tuple[str, str]:
    """The demo organisation, many ordinary tickets, and one busy incident and request;
    returns their keys."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from core.models import Service
    from core.services import outbox_suppressed
    from itsm import services
    from itsm.models import CatalogItem
    from itsm.services.requests import request_submit

    users = get_user_model().objects
    call_command("seed_demo", stdout=io.StringIO())
    requester = users.get(username="requester")
    services_all = list(Service.objects.all())
    t0 = time.perf_counter()
    with outbox_suppressed():
        for i in range(args.incidents):
            services.incident_create(
                actor=requester,
                service=services_all[i % len(services_all)],
                title=f"Ticket {i}: the portal is slow",
                description="Since this morning *every* page takes seconds.",
            )
        # an item with no approval: its team works it at once
        item = CatalogItem.objects.get(name="Customer portal test account")
        answers = {"environment": "UAT", "accounts": 2}
        for _ in range(args.requests):
            request_submit(actor=requester, item=item, answers=answers)
    print(f"seeded {args.incidents} incidents, {args.requests} requests", end="")
    print(f" in {time.perf_counter() - t0:.0f} s")
    return seed_busy()


def seed_busy() -> tuple[str, str]:
    """One busy incident and one busy request, as an agent finds them after a long day."""
    from django.contrib.auth import get_user_model

    from core.attachments import attachment_add
    from core.models import Service
    from core.selectors import comments_of, history_of
    from core.services import outbox_suppressed
    from core.watchers import watch_add
    from itsm import services
    from itsm.models import CatalogItem
    from itsm.services.problems import problem_create
    from itsm.services.requests import request_comment, request_submit
    from projects.services.links import defect_link_incident, incident_to_development

    users = get_user_model().objects
    agent = users.get(username="agent")
    requester = users.get(username="requester")
    support2 = users.get(username="support2")
    payroll = Service.objects.get(name="Payroll")
    item = CatalogItem.objects.get(name="Customer portal test account")
    answers = {"environment": "UAT", "accounts": 2}
    with outbox_suppressed():
        inc = services.incident_create(
            actor=requester,
            service=payroll,
            title="Payslips show the wrong tax code for everyone in Leeds",
            description="Since the **April** run:\n\n1. open a payslip\n2. see code `BR`\n",
        )
        services.incident_take(incident=inc, actor=agent)
        services.incident_start(incident=inc, actor=agent)
        for n in range(20):
            by_agent = n % 3 != 0  # the requester replies publicly, the agent notes too
            services.incident_comment(
                incident=inc,
                actor=agent if by_agent else requester,
                body=f"Update {n}: checked the *tax tables* again, see https://example.com/{n}"
                f"\n\n- step one\n- step two @{agent.username}",
                public=not by_agent or n % 4 != 1,
            )
        for urgency in ("high", "medium", "high", "low"):
            services.incident_update(incident=inc, actor=agent, urgency=urgency)
        for n in range(5):
            services.incident_hold(
                incident=inc, actor=agent, reason="awaiting_vendor", comment=f"{n}"
            )
            services.incident_resume(incident=inc, actor=agent, comment=f"back {n}")
        for user in (support2, users.get(username="incident_manager")):
            watch_add(record=inc, user=user, actor=agent)
        for n in range(3):
            attachment_add(
                target=inc, actor=agent, file=_upload(f"log{n}.txt", b"line\n" * 50), public=True
            )
        problem_create(
            actor=users.get(username="problem_manager"),
            title="Tax code table is stale",
            service=payroll,
            incidents=[inc],
        )
        other = services.incident_create(actor=requester, service=payroll, title="Same again")
        services.incident_take(incident=other, actor=agent)
        services.incident_escalate(incident=other, actor=agent, reason="Needs second line")
        defect = incident_to_development(incident=other, actor=support2, reason="Code fix")
        defect_link_incident(item=defect, actor=agent, incident=inc)

        req = request_submit(actor=requester, item=item, answers=answers)
        fulfiller = item.fulfilment_team.members.first()
        for n in range(20):
            request_comment(
                request=req,
                actor=fulfiller if n % 2 else requester,
                body=f"Request update {n}: *ordered*, see https://example.com/r{n}",
                public=n % 4 != 3,
            )
    inc.refresh_from_db()
    audit = history_of(inc).count()
    comments = comments_of(inc, internal=True).count()
    print(f"busy incident {inc.key}: {comments} comments, {audit} audit rows")
    return inc.key, req.key


def measure(args: argparse.Namespace, url: str) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=args.user))
    for _ in range(args.warmup):
        assert client.get(url).status_code == 200, url
    statements: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url)
    assert response.status_code == 200
    times, cpu = [], []
    for _ in range(args.rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    result: dict[str, object] = {
        "median": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "cpu": statistics.median(cpu),
        "sql": len(statements),
        "bytes": len(response.content),
    }
    if args.sql:
        for sql in statements:
            print(f"    {sql[:250]}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            client.get(url)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
    return result


def busy_keys() -> tuple[str, str]:
    """The busy incident and request of a database seeded before (``--reuse``)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Count

    from core.models import Comment
    from itsm.models import Incident, ServiceRequest

    def busiest(model):  # type: ignore[no-untyped-def]
        on = Comment.objects.filter(content_type=ContentType.objects.get_for_model(model))
        top = on.values("object_id").annotate(n=Count("id")).order_by("-n", "-object_id").first()
        return model.objects.get(pk=top["object_id"]).key

    return busiest(Incident), busiest(ServiceRequest)


def run(args: argparse.Namespace, fresh: bool) -> None:
    from django.conf import settings

    inc_key, req_key = seed(args) if fresh else busy_keys()
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, cache {cache}")
    # cpu: this process's own time (Python and templates, not the database's), the figure
    # that least depends on what else the machine runs
    head = f"page (as {args.user})"
    print(f"{head:<26} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'SQL':>4}")
    pages = [("incident " + inc_key, f"/incidents/{inc_key}/")]
    pages.append(("request " + req_key, f"/requests/{req_key}/"))
    for name, url in pages:
        r = measure(args, url)
        print(f"{name:<26} {r['median']:>10.1f} {r['p95']:>8.1f} {r['cpu']:>7.1f} {r['sql']:>4}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use the database a --keep run left (implies --keep)"
    )
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--user", default="agent")
    parser.add_argument("--sql", action="store_true", help="list each page's statements")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of 20 requests")
    args = parser.parse_args()
    args.keep = args.keep or args.reuse

    fresh = configure(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    if fresh:
        call_command("migrate", verbosity=0)
    try:
        run(args, fresh)
    finally:
        drop(args)


if __name__ == "__main__":
    main()
