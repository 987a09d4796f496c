#!/usr/bin/env python
"""SLA sweep benchmark: does one sweep cost follow the due clocks (k), not all open ones (N)?

Seeds N open clocks that are not due plus k due ones (real P1 incidents whose 50 % response
warning has come), times one full sweep, then grows N tenfold with the same k and sweeps
again. Prints clocks handled per second for both and the EXPLAIN of the due-clock query.

    .venv/bin/python bench/sla_sweep.py                      # N = 10 000 and 100 000, k = 500
    .venv/bin/python bench/sla_sweep.py --n 1000000 --k 1000 # the large run
    .venv/bin/python bench/sla_sweep.py --profile            # where the large sweep's time goes
    .venv/bin/python bench/sla_sweep.py --batch 500          # another batch size
    .venv/bin/python bench/sla_sweep.py --floor              # the database's own share

``--floor`` (PostgreSQL) also times, after the sweeps, the writes a firing must make done by
the database alone with no Python per clock: the k clocks' UPDATE, their audit rows and
clock events (INSERT … SELECT) and what their incidents keep, in one transaction. No sweep
can go faster than that on the same server.

The k due clocks are swept with notices off (``outbox_suppressed``), as the figures in
issue 13 were; the open ones are seeded on the server (``generate_series``) on PostgreSQL.

Runs in a throwaway database: PostgreSQL ``$BENCH_DB`` (default ``tandem_bench``) on the
server of DATABASE_URL (default 127.0.0.1:5432), or a temporary SQLite file with --sqlite.
It drops it afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, run_in_throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="open clocks at the large size")
    parser.add_argument("--k", type=int, default=500, help="due clocks in each sweep")
    parser.add_argument("--repeat", type=int, default=3, help="sweeps at each size (best kept)")
    parser.add_argument(
        "--batch", type=int, default=None, help="clocks per batch (default: clocks_sweep's)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where the large sweep spends its time"
    )
    parser.add_argument(
        "--floor", action="store_true", help="also time the firings' writes in SQL alone"
    )
    add_database_options(parser)
    run_in_throwaway_database(parser.parse_args(), run, CELERY_TASK_ALWAYS_EAGER="true")


def run(args: argparse.Namespace) -> None:
    import time_machine
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from core.models import Service, Team, Tier
    from core.services import outbox_suppressed
    from itsm import services
    from itsm.models import Incident
    from sla.models import SlaClock, SlaPolicy
    from sla.services import clocks_sweep
    from tests.factories import UserFactory

    print(f"database: {connection.vendor} · N (large) = {args.n:,} · k = {args.k:,}")
    # How loaded the shared machine is: runs are compared by this same loop
    t0 = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    print(f"python baseline (load): a 1M-step loop took {time.perf_counter() - t0:.3f} s")
    desk = Team.objects.create(name="Desk", tier=Tier.SERVICE_DESK)
    service = Service.objects.create(name="Bench")
    requester = UserFactory(username="bench")
    start = timezone.now() - timedelta(hours=1)
    with time_machine.travel(start, tick=False), outbox_suppressed(), transaction.atomic():
        due = [
            services.incident_create(
                actor=requester, service=service, title=f"due {i}", impact="high", urgency="high"
            )
            for i in range(args.k)
        ]
    assert desk.pk and due
    ct = ContentType.objects.get_for_model(Incident)
    policy = SlaPolicy.objects.get(name="Incident P1")
    sweep_at = start + timedelta(minutes=16)  # the 50 % response warning of every due one
    far = sweep_at + timedelta(days=30)
    made = 0

    def seed_background(upto: int) -> None:
        nonlocal made
        t0 = time.perf_counter()
        if connection.vendor == "postgresql":
            # set work on the server: a million rows in seconds, not minutes of ORM
            with connection.cursor() as cur:
                cur.execute(
                    """
                    INSERT INTO sla_slaclock (content_type_id, object_id, target, policy_id,
                        target_seconds, thresholds, state, breached, elapsed_seconds,
                        running_since, paused_seconds, started_at, due_at, next_check_at,
                        fired, priority)
                    SELECT %s, 10000000 + g, 'resolution', %s, 14400, '[50, 75, 100]'::jsonb,
                        'running', false, 0, %s, 0, %s, %s, %s, 0, 1
                    FROM generate_series(%s, %s) AS g
                    """,
                    [ct.pk, policy.pk, start, start, far, far, made + 1, upto],
                )
                cur.execute("ANALYZE sla_slaclock")
            made = upto
        batch = []
        while made < upto:
            made += 1
            batch.append(
                SlaClock(
                    content_type=ct,
                    object_id=10_000_000 + made,
                    target="resolution",
                    policy=policy,
                    target_seconds=4 * 3600,
                    thresholds=[50, 75, 100],
                    state="running",
                    running_since=start,
                    started_at=start,
                    due_at=far,
                    next_check_at=far,
                    priority=1,
                )
            )
            if len(batch) == 10_000:
                SlaClock.objects.bulk_create(batch)
                batch = []
        SlaClock.objects.bulk_create(batch)
        print(f"  seeded open clocks up to {upto:,} in {time.perf_counter() - t0:.1f} s")

    def rearm() -> None:
        """Put the k due clocks back before their 50 % warning, and their incidents back
        to not at risk (so that every sweep also writes what the incidents keep)."""
        SlaClock.objects.filter(
            content_type=ct, object_id__in=[i.pk for i in due], target="response"
        ).update(fired=0, next_check_at=start + timedelta(minutes=15))
        if hasattr(Incident, "SLA_KEPT"):
            Incident.objects.filter(pk__in=[i.pk for i in due]).update(sla_risk_due_at=None)

    profiled = False

    def sweep(label: str) -> float:
        rearm()
        nonlocal profiled
        profile = cProfile.Profile() if args.profile and label == "large" and not profiled else None
        profiled = profiled or profile is not None
        statements: dict[str, list[float]] = {}

        def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                kind = " ".join(sql.split()[:3])[:40]
                statements.setdefault(kind, []).append(time.perf_counter() - t)

        t0 = time.perf_counter()
        with outbox_suppressed(), connection.execute_wrapper(timed) if profile else nullcontext():
            if profile:
                profile.enable()
            handled = clocks_sweep(
                now=sweep_at, **({"batch_size": args.batch} if args.batch else {})
            )
            if profile:
                profile.disable()
        took = time.perf_counter() - t0
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            print("  time in the database by statement (client side, incl. transfer):")
            for kind, times in sorted(statements.items(), key=lambda kv: -sum(kv[1])):
                print(f"    {sum(times):7.3f} s  {len(times):4} × {kind}")
        total = SlaClock.objects.count()
        print(
            f"  {label}: {total:,} open clocks, {handled:,} due handled in {took:.3f} s "
            f"= {handled / took:,.0f} clocks/s"
        )
        assert handled == args.k, handled
        return took

    small = max(args.n // 10, 1)
    print(f"sweep with N = {small:,}")
    seed_background(small)
    # the first sweep of a process also pays for warming up (query compilation, the
    # policies' calendars, the freshly seeded table's pages): sweep --repeat times, keep
    # the best
    t_small = min(sweep("small") for _ in range(args.repeat))
    print(f"sweep with N = {args.n:,} (same k)")
    seed_background(args.n)
    t_large = min(sweep("large") for _ in range(args.repeat))
    print(
        f"best of {args.repeat}: {args.k / t_small:,.0f} clocks/s at N = {small:,}, "
        f"{args.k / t_large:,.0f} clocks/s at N = {args.n:,}"
    )
    print(
        f"cost ratio large/small = {t_large / t_small:.2f} for {args.n / small:.0f}× the "
        "open clocks (≈1 means the cost follows k, not N)"
    )

    if args.floor and connection.vendor == "postgresql":
        parts: dict[str, float] = {}
        floors = [sql_floor(due, ct.pk, sweep_at, rearm, parts) for _ in range(args.repeat)]
        best = min(floors)
        print(
            f"floor (the same writes in SQL alone, best of {args.repeat}): "
            f"{args.k:,} firings in {best * 1000:.0f} ms = {args.k / best:,.0f} clocks/s "
            f"({', '.join(f'{t * 1000:.0f}' for t in floors)} ms)"
        )
        print(
            "  its statements: "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items() if k != "total")
        )

    qs = (
        SlaClock.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(next_check_at__lte=sweep_at)
        .order_by("next_check_at")[:500]
    )
    with transaction.atomic():
        rearm()
        plan = qs.explain(analyze=True) if connection.vendor == "postgresql" else qs.explain()
    print("EXPLAIN of the due-clock query:")
    print("\n".join(f"  {line}" for line in plan.splitlines()))


def sql_floor(due: list, ct_id: int, sweep_at, rearm, parts: dict) -> float:  # type: ignore[no-untyped-def,type-arg]
    """Seconds the database alone takes to write what the k due clocks' 50 % warnings
    write (the sweep's own statements, minus its Python): claim, clock UPDATE, audit and
    clock-event INSERTs, the incidents' at-risk mark, commit."""
    from django.db import connection, transaction

    rearm()
    ids = [i.pk for i in due]
    took: dict[str, float] = {}

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = "commit" if sql is None else " ".join(sql.split()[:2])
            took[kind] = took.get(kind, 0.0) + time.perf_counter() - t

    t0 = time.perf_counter()
    with connection.execute_wrapper(timed), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM sla_slaclock WHERE next_check_at <= %s "
            "ORDER BY next_check_at FOR UPDATE SKIP LOCKED",
            [sweep_at],
        )
        cur.execute(  # the tickets' row locks, as the sweep takes them
            "SELECT id FROM itsm_incident WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", [ids]
        )
        cur.execute(
            "WITH c AS (UPDATE sla_slaclock SET fired = 50, next_check_at = due_at "
            "WHERE content_type_id = %s AND object_id = ANY(%s) AND target = 'response' "
            "RETURNING id, object_id, due_at, target_seconds), "
            "a AS (INSERT INTO core_auditevent (content_type_id, object_id, action, "
            "from_state, to_state, changes, comment, created_at) "
            "SELECT %s, object_id, 'sla_warning', '', '', "
            "jsonb_build_object('sla', jsonb_build_array('response', 50)), "
            "'Response SLA at 50%% (7m 30s of 15m); due ' || due_at::text, %s FROM c "
            "RETURNING id, object_id) "
            "INSERT INTO sla_slaclockevent (clock_id, kind, at, elapsed_seconds, percent, "
            "audit_event_id, note) "
            "SELECT c.id, 'warning', %s, c.target_seconds / 2.0, 50, a.id, '' "
            "FROM c JOIN a ON a.object_id = c.object_id",
            [ct_id, ids, ct_id, sweep_at, sweep_at],
        )
        cur.execute(
            "UPDATE itsm_incident i SET sla_risk_due_at = c.due_at FROM sla_slaclock c "
            "WHERE c.content_type_id = %s AND c.object_id = i.id AND c.target = 'response' "
            "AND i.id = ANY(%s)",
            [ct_id, ids],
        )
        t_body = time.perf_counter()
    took["COMMIT"] = time.perf_counter() - t_body
    total = time.perf_counter() - t0
    if not parts or total < parts["total"]:
        parts.clear()
        parts.update(took, total=total)
    return total


if __name__ == "__main__":
    main()
