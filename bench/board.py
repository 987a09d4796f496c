#!/usr/bin/env python
"""Development pages benchmark: do the board, the iteration page and the work item page
render in under 100 ms with N work items in the project, whatever the filters?

Seeds one project with N work items spread over every state (a third unassigned), links
every 100th open item to an open incident, plans 200 into an active iteration, then
gives every 50th item 49 children, every 10th a label and every 20th a blocker, then
renders the board (plain, with the closed and won't-fix columns, in swimlanes by assignee
and by epic, filtered by label and others), the active iteration's page (board, capacity,
burndown), a busy work item's page (linked incidents, 30 comments, 30 history rows), an
epic's page (and its history tab) and /my-work/ through Django's test client, 7 runs each
after a warm-up, and prints the median and slowest time and the number of queries.

    .venv/bin/python bench/board.py              # N = 10 000 (PostgreSQL)
    .venv/bin/python bench/board.py --n 50000
    .venv/bin/python bench/board.py --sqlite

Runs in a throwaway database like bench/sla_sweep.py (``tandem_bench``, dropped after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, run_in_throwaway_database  # noqa: E402

STATES = ["open", "triaged", "in_progress", "in_review", "fixed", "released", "closed", "wont_fix"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="work items in the project")
    parser.add_argument(
        "--profile", metavar="URL", help="also print a cProfile of this URL (top 25, cumulative)"
    )
    add_database_options(parser)
    run_in_throwaway_database(parser.parse_args(), run, DEBUG="false")


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from core.models import Team, Tier
    from core.roles import Role, ensure_role_groups
    from itsm.models import Incident
    from projects.models import Iteration, Project, WorkItem
    from tests.factories import ServiceFactory, UserFactory

    ensure_role_groups()
    dev = UserFactory(username="bench_dev", roles=[Role.DEVELOPER])
    requester = UserFactory(username="bench_requester", roles=[Role.REQUESTER])
    team = Team.objects.create(name="Bench Dev", tier=Tier.DEVELOPMENT)
    team.members.add(dev)
    service = ServiceFactory(name="Bench", development_team=team, support_team=team)
    project = Project.objects.create(code="BEN", name="Bench", team=team)
    project.services.add(service)
    today = timezone.localdate()
    sprint = Iteration.objects.create(
        project=project, name="S1", start=today, end=today + timedelta(days=13)
    )
    Iteration.objects.filter(pk=sprint.pk).update(status="active")
    print(f"database: {connection.vendor} · N = {args.n:,} work items")
    WorkItem.objects.bulk_create(
        [
            WorkItem(
                kind="defect" if i % 2 else "enhancement",
                number=1000 + i,
                project=project,
                title=f"Work item {i}",
                reported_by=dev,
                assignee=dev if i % 3 else None,
                priority=1 + i % 5,
                status=STATES[i % len(STATES)],
                iteration=sprint if i < 200 else None,
            )
            for i in range(args.n)
        ],
        batch_size=5000,
    )
    open_items = list(
        WorkItem.objects.filter(project=project, status="open").values_list("pk", flat=True)
    )[::100]
    incidents = Incident.objects.bulk_create(
        [
            Incident(
                number=5000 + n,
                title=f"Incident {n}",
                requester=requester,
                service=service,
                priority=3,
                team=team,
                tier=Tier.DEVELOPMENT,
            )
            for n in range(len(open_items))
        ]
    )
    WorkItem.incidents.through.objects.bulk_create(
        [
            WorkItem.incidents.through(workitem_id=w, incident_id=inc.pk)
            for w, inc in zip(open_items, incidents, strict=True)
        ]
    )
    # Structure (issue 11): every 50th item an epic over the next 49, a label on every
    # 10th, an open blocker on every 20th.
    from projects.models import Label, WorkItemLink

    ids = list(
        WorkItem.objects.filter(project=project).order_by("number").values_list("pk", flat=True)
    )
    for start in range(0, len(ids), 50):
        WorkItem.objects.filter(pk__in=ids[start + 1 : start + 50]).update(parent_id=ids[start])
    ui = Label.objects.create(project=project, name="ui")
    WorkItem.labels.through.objects.bulk_create(
        [WorkItem.labels.through(workitem_id=w, label_id=ui.pk) for w in ids[::10]]
    )
    WorkItemLink.objects.bulk_create(
        [
            WorkItemLink(source_id=ids[n + 1], target_id=ids[n], kind="blocks")
            for n in range(0, len(ids) - 1, 20)
        ]
    )
    epic = WorkItem.objects.get(pk=ids[0])
    busy = WorkItem.objects.get(pk=open_items[0])
    from projects import services as ps

    for n in range(30):
        ps.work_comment(item=busy, actor=dev, body=f"Note {n} on the fix, see @bench_dev")
        ps.work_item_update(item=busy, actor=dev, title=f"Work item, take {n}")
    if connection.vendor == "postgresql":  # what autovacuum would have done by now
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(dev)
    for url in (
        epic.get_absolute_url(),
        epic.get_absolute_url() + "?tab=history",
        "/projects/BEN/?lanes=epic",
        "/projects/BEN/?label=ui",
        "/projects/BEN/",
        "/projects/BEN/?done=1",
        "/projects/BEN/?lanes=assignee",
        "/projects/BEN/?assignee=me&has_incidents=true",
        "/projects/BEN/?iteration=active",
        f"/iterations/{sprint.pk}/",
        busy.get_absolute_url(),
        "/projects/BEN/backlog/",
        "/my-work/",
    ):
        assert client.get(url).status_code == 200
        times = []
        for _ in range(7):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
        print(
            f"{url:<50} {statistics.median(times):6.1f} ms (max {max(times):6.1f})"
            f"  {len(ctx.captured_queries)} queries"
        )
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(client.get, args.profile.replace("{busy}", busy.get_absolute_url()))
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(
            25
        )
        with CaptureQueriesContext(connection) as ctx:
            client.get(args.profile.replace("{busy}", busy.get_absolute_url()))
        total = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
        print(f"{len(ctx.captured_queries)} queries, {total:.1f} ms in the database:")
        for q in ctx.captured_queries:
            print(f"  {float(q['time']) * 1000:5.1f} ms  {q['sql'][:150]}")
        for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"{float(q['time']) * 1000:7.1f} ms  {q['sql']}")
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN ANALYZE " + q["sql"])
                    print("\n".join(r[0] for r in cursor.fetchall()))


if __name__ == "__main__":
    main()
