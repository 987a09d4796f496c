#!/usr/bin/env python
"""Load test: Tandem under gunicorn + PostgreSQL + Redis + a Celery worker, beside its ceilings.

One command, against a seeded database (bench/seed.py, or ``manage.py seed_demo``):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench
    export REDIS_URL=redis://127.0.0.1:6379/5
    .venv/bin/python bench/load.py                      # every phase, gunicorn -w 2
    .venv/bin/python bench/load.py --phases endpoints --duration 20 --users 8
    .venv/bin/python bench/load.py --web-processes 2 --web-workers 1 --celery-workers 2
    .venv/bin/python bench/load.py --url http://tandem.internal:8000 --phases mixed

It starts ``--web-processes`` gunicorn masters (``config.wsgi``, ``--web-workers`` sync
workers each, on free ports, ``TANDEM_BENCH_BARE=1`` so /bench/bare/ exists) and
``--celery-workers`` Celery workers on DATABASE_URL and REDIS_URL (or attaches to ``--url``),
then runs the phases, each a separate locust (headless, as a library) process of ``--users``
closed-loop users:

- ``ceiling``:   the bare Django view (/bench/bare/: middleware, no database), then the
                 floors (core/bench_views.py): the least a page, an API read and a create
                 cost in this stack here, each endpoint then printed as a share of its own;
- ``endpoints``: each endpoint of issue 13's table alone, ``--duration`` seconds each;
- ``mixed``:     70 % reads, 20 % writes (create, comment), 10 % transitions (hold/resume);
- ``create``:    create-incident API only;
- ``pgbench``:   ``pgbench -S`` on the same PostgreSQL (database ``tandem_pgbench``, -s 10);
- ``sweep``:     (only when named) bench/sla_sweep.py, in its own database (BENCH_DB).

Per endpoint it prints req/s, p50/p95/p99 (ms), errors, SQL per request (the endpoint fetched
once in this process through Django's test client under CaptureQueriesContext, same
database), req/s as a share of the bare view, and the SQL/s it drives as a share of pgbench.
Per phase it prints the CPU the generator, the web processes and the workers used, and the
rest of the machine (PostgreSQL and anything else running): a Python load generator is CPU
hungry, and on a small machine it competes with what it measures.

Before the load it writes to the database: a user ``bench_agent`` (password ``bench``,
service desk and 2nd line roles) joins the queue's team (``--team``, default: the team with
most open incidents), and owns one in-progress incident per user for the transitions. Every
run adds the incidents and comments it creates. With more than one web process each user
sends each request to the next process in turn, so every session and token is served by
every process (statelessness, shown by zero errors).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
AGENT, PASSWORD = "bench_agent", "bench"
TRANSITION_TITLE = "bench-load transitions"


# --- what is requested ----------------------------------------------------------------------
@dataclass
class Endpoint:
    """One request of the table. ``path`` may hold {team}, {key} (a sampled incident of the
    queue) or {own} (the user's own incident); ``kind`` says how it is authenticated."""

    name: str
    method: str
    path: str
    kind: str  # "api" (token), "page" (session), "bare" (none)
    weight: int = 1
    body: dict[str, Any] | None = None
    expect: int = 200
    sql: int | None = None


def endpoints(team: int, service: int) -> dict[str, Endpoint]:
    create = {"title": "bench-load create", "service": service, "impact": "medium"}
    eps = [
        Endpoint("bare view (ceiling)", "GET", "/bench/bare/", "bare"),
        Endpoint("page floor: session + 1 row", "GET", "/bench/page-floor/{key}/", "page"),
        Endpoint("API floor: token + 1 row", "GET", "/bench/api-floor/{key}/", "api"),
        Endpoint(
            "create floor: token + 1 INSERT",
            "POST",
            "/bench/create-floor/{own}/",
            "api",
            body={"body": "bench-load floor"},
            expect=201,
        ),
        Endpoint("queue page /desk/?queue=team-N", "GET", "/desk/?queue=team-{team}", "page"),
        Endpoint("list API default", "GET", "/api/v1/incidents/", "api"),
        Endpoint(
            "list API in_progress by priority",
            "GET",
            "/api/v1/incidents/?status=in_progress&ordering=priority",
            "api",
        ),
        Endpoint(
            "list API team open, newest",
            "GET",
            "/api/v1/incidents/?team={team}&status=new&status=assigned&ordering=-created_at",
            "api",
        ),
        Endpoint(
            "list API unassigned, oldest",
            "GET",
            "/api/v1/incidents/?unassigned=true&ordering=created_at",
            "api",
        ),
        Endpoint("incident page /incidents/INC-n/", "GET", "/incidents/{key}/", "page"),
        Endpoint("incident API detail", "GET", "/api/v1/incidents/{key}/", "api"),
        Endpoint(
            "create incident API", "POST", "/api/v1/incidents/", "api", body=create, expect=201
        ),
        Endpoint(
            "comment API (own incident)",
            "POST",
            "/api/v1/incidents/{own}/comments/",
            "api",
            body={"body": "bench-load note", "public": False},
            expect=201,
        ),
        Endpoint("transition hold/resume", "POST", "/api/v1/incidents/{own}/transitions/", "api"),
    ]
    return {e.name: e for e in eps}


FLOORS = [
    "page floor: session + 1 row",
    "API floor: token + 1 row",
    "create floor: token + 1 INSERT",
]
ISOLATED = [
    "queue page /desk/?queue=team-N",
    "list API default",
    "list API in_progress by priority",
    "list API team open, newest",
    "list API unassigned, oldest",
    "incident page /incidents/INC-n/",
    "incident API detail",
    "create incident API",
]
# 70 % reads, 20 % writes, 10 % transitions (issue 13).
MIXED = {
    "queue page /desk/?queue=team-N": 15,
    "list API default": 10,
    "list API in_progress by priority": 10,
    "list API team open, newest": 5,
    "incident page /incidents/INC-n/": 15,
    "incident API detail": 15,
    "create incident API": 10,
    "comment API (own incident)": 10,
    "transition hold/resume": 10,
}


# --- the load generator (a child process: locust's gevent patches everything it imports) ---
def generate(spec: dict[str, Any]) -> dict[str, Any]:
    import gevent
    from locust import FastHttpUser, constant
    from locust.env import Environment

    hosts: list[str] = spec["hosts"]
    keys: list[str] = spec["keys"]
    own: list[str] = spec["own"]
    token = f"Token {spec['token']}"
    counter = iter(range(10**9))
    ready: list[int] = []

    def request(user: Any, ep: dict[str, Any]) -> None:
        path = ep["path"].replace("{team}", str(spec["team"]))
        path = path.replace("{key}", random.choice(keys)).replace("{own}", user.own)
        name, body, expect = ep["name"], ep["body"], ep["expect"]
        if ep["name"] == "transition hold/resume":
            verb = "resume" if user.held else "hold"
            path += f"{verb}/"
            # Not awaiting_requester: the user's own comments (it raised them) would resume it.
            body = {"reason": "awaiting_vendor"} if verb == "hold" else {}
            user.held = not user.held
        headers = {"Authorization": token} if ep["kind"] == "api" else {}
        # Each request goes to the next web process: nothing may live in one process.
        url = hosts[user.turn % len(hosts)] + path
        user.turn += 1
        with user.client.request(
            ep["method"],
            url,
            name=name,
            json=body,
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as res:
            if res.status_code != expect:
                res.failure(f"{res.status_code} (expected {expect}): {str(res.text)[:120]}")

    tasks_by_weight = {}
    for ep in spec["endpoints"]:

        def run(user: Any, ep: dict[str, Any] = ep) -> None:
            request(user, ep)

        tasks_by_weight[run] = ep["weight"]

    class BenchUser(FastHttpUser):
        host = hosts[0]
        wait_time = constant(0)
        tasks = tasks_by_weight  # type: ignore[assignment]

        def on_start(self) -> None:
            n = next(counter)
            self.turn, self.held, self.own = n, False, own[n % len(own)]
            if spec["login"]:
                self.login()
            ready.append(n)

        def login(self) -> None:
            """A session login, as a browser does it: the form's CSRF cookie, then the POST."""
            host = hosts[self.turn % len(hosts)]
            self.client.get(host + "/accounts/login/", name="login")
            csrf = next(c.value for c in self.client.cookiejar if c.name == "csrftoken")
            with self.client.post(
                host + "/accounts/login/",
                name="login",
                data=f"username={AGENT}&password={PASSWORD}&csrfmiddlewaretoken={csrf}",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": host + "/accounts/login/",
                },
                allow_redirects=False,
                catch_response=True,
            ) as res:
                if res.status_code != 302:
                    res.failure(f"login answered {res.status_code}")

    env = Environment(user_classes=[BenchUser], host=hosts[0])
    runner = env.create_local_runner()
    runner.start(spec["users"], spawn_rate=max(spec["users"], 1) * 4)
    # Logins hash a password (PBKDF2, hundreds of ms of CPU each): measuring starts once
    # every user is in, so a slow login never passes for a slow endpoint.
    deadline = time.time() + 300
    while len(ready) < spec["users"] and time.time() < deadline:
        gevent.sleep(0.2)
    gevent.sleep(spec["warmup"])
    env.stats.reset_all()  # the logins and the ramp-up are not the figures
    started = time.time()
    cpu0 = time.process_time()
    gevent.sleep(spec["duration"])
    wall = time.time() - started
    cpu = time.process_time() - cpu0
    runner.quit()
    rows = []
    for entry in env.stats.entries.values():
        if entry.name == "login" or not entry.num_requests:
            continue
        rows.append(
            {
                "name": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "rps": entry.num_requests / wall,
                "p50": entry.get_response_time_percentile(0.50),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
            }
        )
    errors = [f"{e.name}: {e.error} ×{e.occurrences}" for e in env.stats.errors.values()]
    # An exception in a task is no request: without this line it would vanish silently.
    errors += [f"exception: {e['msg']} ×{e['count']}" for e in runner.exceptions.values()]
    return {"rows": rows, "errors": errors, "wall": wall, "generator_cpu": cpu}


# --- processes this script starts, and the CPU they use -------------------------------------
@dataclass
class Stack:
    hosts: list[str]
    web: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-load-")))

    def stop(self) -> None:
        for proc in [*self.web, *self.workers]:
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.web, *self.workers]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def control_socket(path: Path) -> list[str]:
    """A recent gunicorn opens a control socket, by default one path per user: each master
    started here gets its own, so none takes another's (ours or anyone's on the host)."""
    from gunicorn.config import KNOWN_SETTINGS

    known = any(setting.name == "control_socket" for setting in KNOWN_SETTINGS)
    return [f"--control-socket={path}"] if known else []


def child_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DEBUG="false",  # DEBUG keeps every query in memory: not what an install runs
        # ... but served over plain HTTP on 127.0.0.1, with no TLS proxy in front: the
        # HTTPS-only settings that DEBUG off turns on would redirect every request to https
        # and keep the session cookie from ever coming back over http.
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        TANDEM_BENCH_BARE="1",
        CONN_MAX_AGE=str(args.conn_max_age),
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    # its users are one user with one token: the per-user and per-token limits (6000/min)
    # would measure the limit, not the endpoint (set them in the environment to keep them)
    env.setdefault("API_THROTTLE_USER", "off")
    env.setdefault("API_THROTTLE_TOKEN", "off")
    return env


def start_stack(args: argparse.Namespace) -> Stack:
    env = child_env(args)
    if not (ROOT / "staticfiles" / "staticfiles.json").exists():  # DEBUG off: the manifest
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    stack = Stack(hosts=[])
    for i in range(args.web_processes):
        port = free_port()
        log = open(stack.logdir / f"web{i}.log", "wb")  # noqa: SIM115 (the process keeps it)
        stack.web.append(
            subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "config.wsgi:application",
                    f"--workers={args.web_workers}",
                    "--worker-class=sync",
                    f"--bind=127.0.0.1:{port}",
                    "--log-level=warning",
                    *control_socket(stack.logdir / f"web{i}.ctl"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        stack.hosts.append(f"http://127.0.0.1:{port}")
    for i in range(args.celery_workers):
        log = open(stack.logdir / f"worker{i}.log", "wb")  # noqa: SIM115
        stack.workers.append(
            subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    f"--concurrency={args.worker_concurrency}",
                    "--without-gossip",
                    "--without-mingle",
                    f"--hostname=bench{i}@%h",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.time() + 90
    for host in stack.hosts:
        while True:
            try:
                urllib.request.urlopen(host + "/bench/bare/", timeout=2).read()
                break
            except OSError as exc:
                if time.time() > deadline:
                    stack.stop()
                    msg = f"gunicorn at {host} did not answer: see {stack.logdir}"
                    raise SystemExit(msg) from exc
                time.sleep(0.5)
    return stack


def cpu_seconds(procs: list[Any]) -> float:
    """CPU (user + system) of these processes and their children, alive now."""
    import psutil

    total = 0.0
    for proc in procs:
        with suppress(psutil.Error):
            p = psutil.Process(proc.pid)
            for q in [p, *p.children(recursive=True)]:
                with suppress(psutil.Error):
                    t = q.cpu_times()
                    total += t.user + t.system
    return total


def machine_busy() -> float:
    import psutil

    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + t.softirq


# --- preparing the database, and SQL per request --------------------------------------------
def prepare(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from core.models import Service, Team
    from core.roles import Role, ensure_role_groups
    from itsm import services
    from itsm.models import Incident, IncidentStatus

    open_states = [IncidentStatus.NEW, IncidentStatus.ASSIGNED, IncidentStatus.IN_PROGRESS]
    if args.team:
        team = Team.objects.get(pk=args.team)
    else:  # one GROUP BY over the open incidents, once
        busiest = (
            Incident.objects.filter(status__in=open_states, team__isnull=False)
            .values("team")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .first()
        )
        team = Team.objects.get(pk=busiest["team"]) if busiest else Team.objects.first()
    if team is None:
        raise SystemExit("No team in this database: seed it first (bench/seed.py).")
    ensure_role_groups()
    agent, created = get_user_model().objects.get_or_create(
        username=AGENT, defaults={"email": "bench_agent@bench.invalid", "first_name": "Bench"}
    )
    if created:
        agent.set_password(PASSWORD)
        agent.save()
    agent.groups.add(*Group.objects.filter(name__in=[Role.SERVICE_DESK_AGENT, Role.SECOND_LINE]))
    team.members.add(agent)
    token, _ = Token.objects.get_or_create(user=agent)
    service = Service.objects.filter(is_active=True).order_by("pk").first()
    if service is None:
        raise SystemExit("No active service in this database: seed it first.")

    # The incidents the page and the API detail read: a sample of the queue's, by id ranges
    # (an ORDER BY random() would read the whole table).
    bounds = Incident.objects.filter(team=team).order_by("pk").values_list("pk", flat=True)
    lo, hi = bounds.first(), bounds.last()
    if lo is None:
        raise SystemExit(f"Team {team} has no incidents: seed the database first.")
    keys: set[str] = set()
    for _ in range(args.sample):
        start = random.randint(lo, hi)
        found = Incident.objects.filter(team=team, pk__gte=start).order_by("pk").first()
        if found:
            keys.add(found.key)

    # One in-progress incident per user, theirs to hold and resume without racing others.
    mine = list(
        Incident.objects.filter(
            title=TRANSITION_TITLE,
            assignee=agent,
            team=team,
            status__in=[IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD],
        ).order_by("pk")[: args.users + 1]
    )
    for inc in mine:
        if inc.status == IncidentStatus.ON_HOLD:
            services.incident_resume(incident=inc, actor=agent)
    while len(mine) < args.users + 1:
        inc = services.incident_create(actor=agent, title=TRANSITION_TITLE, service=service)
        inc = services.incident_assign(incident=inc, actor=agent, team=team, assignee=agent)
        mine.append(services.incident_start(incident=inc, actor=agent))
    return {
        "team": team.pk,
        "team_name": team.name,
        "service": service.pk,
        "token": token.key,
        "keys": sorted(keys),
        "own": [i.key for i in mine[1:]],
        "probe": mine[0].key,  # the SQL count's transitions leave it as it was
        "agent": agent,
    }


def count_sql(eps: dict[str, Endpoint], ctx: dict[str, Any]) -> None:
    """Each endpoint once through the test client, in this process, on the same database."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    page = Client()
    page.force_login(ctx["agent"])
    api = Client(HTTP_AUTHORIZATION=f"Token {ctx['token']}")
    key = ctx["keys"][0]
    with override_settings(TANDEM_BENCH_BARE=True):
        for ep in eps.values():
            path = ep.path.format(team=ctx["team"], key=key, own=ctx["probe"])
            client = page if ep.kind == "page" else api
            if ep.kind == "bare":
                ep.sql = 0  # not routed in this process; the view has no query
                continue
            if ep.name in FLOORS:
                continue  # not routed in this process (config/urls.py reads the flag once)
            steps = [(path + "hold/", {"reason": "awaiting_vendor"}), (path + "resume/", {})]
            if ep.name != "transition hold/resume":
                steps = [(path, ep.body)]
            counts = []
            for url, body in steps:
                with CaptureQueriesContext(connection) as q:
                    if ep.method == "GET":
                        res = client.get(url)
                    else:
                        res = client.post(url, body, content_type="application/json")
                expect = 200 if ep.name == "transition hold/resume" else ep.expect
                if res.status_code != expect:
                    raise SystemExit(f"{ep.name}: {url} answered {res.status_code}, not {expect}")
                counts.append(len(q.captured_queries))
            ep.sql = round(sum(counts) / len(counts))


# --- phases ---------------------------------------------------------------------------------
def run_generator(
    args: argparse.Namespace, stack: Stack, ctx: dict[str, Any], eps: list[Endpoint]
) -> dict[str, Any]:
    spec = {
        "hosts": stack.hosts,
        "users": args.users,
        "duration": args.duration,
        "warmup": args.warmup,
        "team": ctx["team"],
        "keys": ctx["keys"],
        "own": ctx["own"],
        "token": ctx["token"],
        "login": any(e.kind == "page" for e in eps),
        "endpoints": [
            {"name": e.name, "method": e.method, "path": e.path, "kind": e.kind}
            | {"weight": e.weight, "body": e.body, "expect": e.expect}
            for e in eps
        ],
    }
    # Kept beside the logs: `bench/load.py _generate < spec.json` replays a phase's load.
    (stack.logdir / "spec.json").write_text(json.dumps(spec))
    busy0, web0, work0 = machine_busy(), cpu_seconds(stack.web), cpu_seconds(stack.workers)
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, __file__, "_generate"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.time() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode()[-3000:])
        raise SystemExit("the load generator failed")
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    # The generator's own CPU over its measured window, the rest over the whole phase.
    result["cpu"] = {
        "generator": result["generator_cpu"] / result["wall"],
        "web": (cpu_seconds(stack.web) - web0) / wall,
        "workers": (cpu_seconds(stack.workers) - work0) / wall,
        "machine": (machine_busy() - busy0) / wall,
    }
    return result


def pgbench(args: argparse.Namespace) -> float | None:
    """``pgbench -S`` tps on the server of DATABASE_URL, in its own database."""
    if not shutil.which("pgbench"):
        print("pgbench: not installed, skipped")
        return None
    import psycopg2

    base = args.database_url.rsplit("/", 1)[0]
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.pgbench_db])
        exists = cur.fetchone() is not None
        if not exists:
            cur.execute(f'CREATE DATABASE "{args.pgbench_db}"')
    conn.close()
    url = f"{base}/{args.pgbench_db}"
    if not exists:
        subprocess.run(["pgbench", "-i", "-s", "10", "-q", url], check=True, capture_output=True)
    clients = args.pgbench_clients or args.web_processes * args.web_workers
    out = subprocess.run(
        ["pgbench", "-S", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1))]
        + ["-T", str(args.duration), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = next(float(line.split("=")[1].split()[0]) for line in out.splitlines() if "tps" in line)
    print(f"pgbench -S -c {clients} -T {args.duration} ({args.pgbench_db}, -s 10): {tps:,.0f} tps")
    if not args.keep_pgbench:
        conn = psycopg2.connect(f"{base}/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{args.pgbench_db}"')
        conn.close()
    return tps


def floor_of(ep: Endpoint) -> str:
    """The floor an endpoint is compared with: the least a request of its kind costs."""
    if ep.kind == "page":
        return FLOORS[0]
    return FLOORS[2] if ep.method == "POST" else FLOORS[1]


def print_table(
    title: str,
    results: list[tuple[dict[str, Any], dict[str, Any]]],
    eps: dict[str, Endpoint],
    cpu: bool = True,
) -> None:
    bare = eps["bare view (ceiling)"]
    bare_rps = getattr(bare, "rps", None)
    pg = eps.get("_pgbench")
    print(f"\n== {title}")
    head = f"{'request':36} {'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>8}"
    print(head + f" {'SQL/req':>7} {'÷bare':>6} {'÷floor':>6} {'SQL/s÷pgb':>9}")
    for row, _result in results:
        ep = eps[row["name"]]
        errs = f"{row['failures']}/{row['requests']}"
        share = f"{row['rps'] / bare_rps:6.1%}" if bare_rps else f"{'–':>6}"
        floor = getattr(eps.get(floor_of(ep)), "rps", None) if ep.kind != "bare" else None
        floor_share = f"{row['rps'] / floor:6.1%}" if floor else f"{'–':>6}"
        pgs = f"{'–':>9}"
        if pg is not None and ep.sql:
            pgs = f"{row['rps'] * ep.sql / pg.rps:9.1%}"  # type: ignore[attr-defined]
        ms = [f"{row[p]:6.0f}" if p in row else f"{'–':>6}" for p in ("p50", "p95", "p99")]
        print(
            f"{row['name'][:36]:36} {row['rps']:8.1f} {' '.join(ms)} {errs:>8}"
            f" {ep.sql if ep.sql is not None else '–':>7} {share} {floor_share} {pgs}"
        )
    for _, result in results[-1:] if cpu else []:
        use = result["cpu"]
        print(
            f"   CPU (cores): generator {use['generator']:.2f} · web {use['web']:.2f} · "
            f"workers {use['workers']:.2f} · whole machine {use['machine']:.2f} of "
            f"{os.cpu_count()} (the rest: PostgreSQL, Redis and other processes)"
        )
        for err in result["errors"][:5]:
            print(f"   error: {err}")


def main() -> None:
    if sys.argv[1:2] == ["_generate"]:
        print(json.dumps(generate(json.loads(sys.stdin.read()))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--url", help="attach to this running Tandem instead of starting one")
    parser.add_argument("--phases", default="ceiling,endpoints,mixed,create,pgbench")
    parser.add_argument("--web-processes", type=int, default=1, help="gunicorn masters")
    parser.add_argument("--web-workers", type=int, default=2, help="sync workers per master")
    parser.add_argument("--celery-workers", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--conn-max-age", type=int, default=60, help="CONN_MAX_AGE of the web")
    parser.add_argument("--users", type=int, default=8, help="concurrent closed-loop users")
    parser.add_argument("--duration", type=int, default=15, help="seconds measured per phase")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before measuring")
    parser.add_argument(
        "--endpoints", default="", help="endpoints phase: only names containing one of these"
    )
    parser.add_argument("--team", type=int, help="the queue's team id (default: most open)")
    parser.add_argument("--sample", type=int, default=200, help="incidents to read from")
    parser.add_argument(
        "--sweep-args", default="--n 100000 --k 500", help="for the opt-in 'sweep' phase"
    )
    parser.add_argument("--pgbench-db", default="tandem_pgbench")
    parser.add_argument("--pgbench-clients", type=int, help="default: the web's sync workers")
    parser.add_argument("--keep-pgbench", action="store_true", help="keep its database")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("give a seeded PostgreSQL database: --database-url or DATABASE_URL")
    phases = args.phases.split(",")

    ctx = prepare(args)
    eps = endpoints(ctx["team"], ctx["service"])
    count_sql(eps, ctx)
    from django.db import connections

    connections.close_all()
    import psutil

    # What the machine does without us: figures taken on a busy machine read low.
    idle_busy = psutil.cpu_percent(interval=3) / 100 * (os.cpu_count() or 1)
    print(
        f"Tandem load · {os.cpu_count()} CPUs (busy before the run: {idle_busy:.2f} cores) · "
        f"queue team-{ctx['team']} ({ctx['team_name']}) · "
        f"{args.users} users · {args.duration}s per phase after {args.warmup}s warm-up · "
        f"{args.web_processes} gunicorn × {args.web_workers} sync workers · "
        f"{args.celery_workers} Celery worker(s) · CONN_MAX_AGE={args.conn_max_age}"
    )
    stack = Stack(hosts=[args.url.rstrip("/")]) if args.url else start_stack(args)
    figures: dict[str, Any] = {}
    try:
        if "pgbench" in phases:
            tps = pgbench(args)
            if tps:
                pg = Endpoint("_pgbench", "", "", "")
                pg.rps = tps  # type: ignore[attr-defined]
                eps["_pgbench"] = pg
                figures["pgbench_tps"] = tps
        if "ceiling" in phases:
            res = run_generator(args, stack, ctx, [eps["bare view (ceiling)"]])
            eps["bare view (ceiling)"].rps = res["rows"][0]["rps"]  # type: ignore[attr-defined]
            print_table("ceiling: bare Django view", [(r, res) for r in res["rows"]], eps)
            figures["ceiling"] = res
            for name in FLOORS:  # the least each kind of request costs here
                res = run_generator(args, stack, ctx, [eps[name]])
                eps[name].rps = res["rows"][0]["rps"]  # type: ignore[attr-defined]
                print_table(f"floor: {name}", [(r, res) for r in res["rows"]], eps)
                figures.setdefault("floors", []).append(res)
        if "endpoints" in phases:
            results = []
            chosen = [n for n in ISOLATED if any(f in n for f in args.endpoints.split(","))]
            for name in chosen:
                res = run_generator(args, stack, ctx, [eps[name]])
                results += [(r, res) for r in res["rows"]]
                figures.setdefault("endpoints", []).append(res)
                print_table(f"endpoint alone: {name}", [(r, res) for r in res["rows"]], eps)
            print_table("endpoints, each alone (summary)", results, eps, cpu=False)
        if "mixed" in phases:
            mix = []
            for name, weight in MIXED.items():
                eps[name].weight = weight
                mix.append(eps[name])
            res = run_generator(args, stack, ctx, mix)
            rows = sorted(res["rows"], key=lambda r: list(MIXED).index(r["name"]))
            total = {
                "name": "mixed: all requests",
                "requests": sum(r["requests"] for r in rows),
                "failures": sum(r["failures"] for r in rows),
                "rps": sum(r["rps"] for r in rows),
            }
            eps[total["name"]] = Endpoint(total["name"], "", "", "")
            print_table(
                "mixed: 70 % reads, 20 % writes, 10 % transitions",
                [*((r, res) for r in rows), (total, res)],
                eps,
            )
            figures["mixed"] = res
        if "sweep" in phases:
            # bench/sla_sweep.py seeds and drops its own database: BENCH_DB names it.
            print("\n== SLA sweep: bench/sla_sweep.py " + args.sweep_args)
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "sla_sweep.py"), *args.sweep_args.split()],
                cwd=ROOT,
                env={**os.environ, "BENCH_DB": os.environ.get("BENCH_DB", "tandem_bench_sweep")},
                check=False,
            )
        if "create" in phases:
            res = run_generator(args, stack, ctx, [eps["create incident API"]])
            print_table("create only", [(r, res) for r in res["rows"]], eps)
            figures["create"] = res
    finally:
        if not args.url:
            stack.stop()
            tasks = {
                f"worker{i}": (stack.logdir / f"worker{i}.log").read_text().count(" succeeded in ")
                for i in range(len(stack.workers))
            }
            print(f"\nCelery tasks run per worker: {tasks} (logs in {stack.logdir})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
