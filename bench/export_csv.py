#!/usr/bin/env python
"""CSV export benchmark: does the desk queue's export stream with constant memory, so
100 000 rows cost no more memory than 10 000?

Seeds incidents with bulk_create (every state, five priorities, 50 requesters, a quarter
unassigned) first up to 10 000, then up to --n (100 000), and after each streams
``/desk/?queue=all&ordering=sla&export=csv`` through Django's test client as an agent,
reading the streamed content piece by piece (never joined). For each size it prints the
rows, bytes, seconds, the tracemalloc peak of the export (Python allocations while it
streams) and the growth of the process's peak RSS (ru_maxrss) during it.

    .venv/bin/python bench/export_csv.py              # 10 000 vs 100 000 (PostgreSQL)
    .venv/bin/python bench/export_csv.py --n 200000
    .venv/bin/python bench/export_csv.py --sqlite

Runs in a throwaway database like the other benches (``tandem_bench``, dropped after).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, run_in_throwaway_database  # noqa: E402

STATES = ["new", "assigned", "in_progress", "on_hold", "resolved", "closed"]
BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="incidents at the largest size")
    parser.add_argument("--small", type=int, default=10_000, help="incidents at the first size")
    add_database_options(parser)
    run_in_throwaway_database(parser.parse_args(), run, DEBUG="false")


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client

    from core.models import Team, Tier
    from core.roles import Role, ensure_role_groups
    from tests.factories import ServiceFactory, UserFactory

    ensure_role_groups()
    agent = UserFactory(username="bench_agent", roles=[Role.SERVICE_DESK_AGENT])
    requesters = [
        UserFactory(username=f"bench_req{i}", roles=[Role.REQUESTER], email=f"r{i}@example.com")
        for i in range(50)
    ]
    desk = Team.objects.create(name="Bench Desk", tier=Tier.SERVICE_DESK)
    desk.members.add(agent)
    service = ServiceFactory(name="Bench", support_team=desk)
    print(f"database: {connection.vendor}")

    client = Client()
    client.force_login(agent)
    url = "/desk/?queue=all&ordering=sla&export=csv"
    client.get(url).close()  # warm-up: sessions, content types, template loading

    seeded = 0
    results = []
    for size in (args.small, args.n):
        t0 = time.perf_counter()
        seeded = seed(seeded, size, agent, requesters, service, desk)
        print(f"  seeded {seeded:,} incidents in {time.perf_counter() - t0:.1f} s")
        results.append(measure(client, url, size))

    print()
    print(f"{'incidents':>10} {'rows':>10} {'MB':>7} {'seconds':>8} {'peak KB':>9} {'RSS +KB':>8}")
    for size, rows, size_bytes, seconds, peak, rss in results:
        print(
            f"{size:>10,} {rows:>10,} {size_bytes / 1e6:>7.1f} {seconds:>8.2f} "
            f"{peak / 1024:>9.0f} {rss:>8}"
        )
    (_, _, _, _, small_peak, _), (_, _, _, _, big_peak, _) = results
    print(
        f"peak memory at {args.n:,} rows is {big_peak / max(small_peak, 1):.2f}× "
        f"that at {args.small:,} rows (flat: about 1)"
    )


def seed(start: int, upto: int, agent, requesters, service, team) -> int:  # type: ignore[no-untyped-def]
    from itsm.models import Incident

    for lo in range(start, upto, BATCH):
        Incident.objects.bulk_create(
            [
                Incident(
                    number=100_000 + i,
                    title=f"Bench incident {i}: payslip shows the wrong tax code",
                    requester=requesters[i % len(requesters)],
                    service=service,
                    priority=1 + i % 5,
                    status=STATES[i % len(STATES)],
                    team=team,
                    assignee=None if i % 4 == 0 else agent,
                    tier=1,
                )
                for i in range(lo, min(lo + BATCH, upto))
            ]
        )
    return upto


def stream(client, url: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """GET the export and read it one piece at a time, as a server sends it (never
    joined); its lines and bytes."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.streaming, "the export must stream"
    lines = size_bytes = 0
    for piece in response.streaming_content:
        lines += piece.count(b"\n")
        size_bytes += len(piece)
    response.close()
    return lines, size_bytes


def measure(client, url: str, size: int) -> tuple[int, int, int, float, int, int]:  # type: ignore[no-untyped-def]
    """Stream the export twice: once timed (and its RSS growth), once under tracemalloc
    (which slows allocation down) for its peak. Rows, bytes, seconds, peak, RSS KB."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    lines, size_bytes = stream(client, url)
    seconds = time.perf_counter() - t0
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    tracemalloc.start()
    stream(client, url)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  {size:,} incidents: {lines - 1:,} rows, {size_bytes / 1e6:.1f} MB in {seconds:.2f} s, "
        f"tracemalloc peak {peak / 1024:.0f} KB"
    )
    return size, lines - 1, size_bytes, seconds, peak, rss_growth


if __name__ == "__main__":
    main()
