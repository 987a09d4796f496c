#!/usr/bin/env python
"""Load a realistic Tandem data set fast, for load runs and EXPLAIN checks.

    .venv/bin/python bench/seed.py                      # 1 000 000 incidents into tandem_bench
    .venv/bin/python bench/seed.py --scale 0.1 --db tandem_100k   # 100 000 incidents
    .venv/bin/python bench/seed.py --scale 0.01         # a quick run (10 000 incidents)
    .venv/bin/python bench/seed.py --sqlite /tmp/b.sqlite3 --scale 0.001   # SQLite, small
    .venv/bin/python bench/seed.py --db tandem_100k --drop        # remove a seeded database

PostgreSQL: (re)creates the database ``--db`` on the server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432), migrates it and loads it with ``COPY … FROM STDIN`` into
the migrated schema. For speed the load turns foreign-key triggers off in its sessions, builds
the incidents in ``--workers`` processes (2) and the secondary indexes of the four big tables
once after their rows (``--checked``: all of that live, slower); the index build is part of
the figures. Then it sets the id sequences and Tandem's key sequences (the next incident gets
the next number), runs ``after_load`` (derived data, VACUUM ANALYZE) and KEEPS the database:
point the app at it with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>``.
SQLite: batched inserts, one process, for small scales.

What it loads at scale 1: 30 teams over the three tiers (the Service Desk is team 1 and holds
about 300 000 of the 400 000 open incidents), 50 services, about 20 000 requesters and 300
agents, developers and managers (password ``bench``: sign in as ``agent001``, ``support001``,
``dev001``, ``incident_manager``, ``admin``), 1 000 000 incidents created over three years
(about 40 % open: new, assigned, in progress, on hold), with ~3 comments (a third internal),
~4 audit rows (created and each transition) and a response and a resolution SLA clock each,
whose state, due and next-check moments are what the SLA engine would hold now; 1 % problems,
0.5 % changes, one project per development team with releases and 50 000 work items.
Prints rows and rows/s per table. Left out: SLA clock events and the warning/breach audit rows
of the sweep, watchers, the outbox and notifications (a loaded database owes no e-mail), and
the escalation a breached P1/P2 clock would have caused (its incident stays where its story
left it; the breach is marked handled).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import random
import sys
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FULL_INCIDENTS = 1_000_000
PASSWORD = "bench"
DAY = 86_400.0
HOUR = 3_600.0
YEARS = 3
CHUNK_ROWS = 50_000


# --- writing rows -------------------------------------------------------------------------
def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class RawJson(str):
    """JSON text written by the generator itself: the million-row JSON columns (audit
    changes, clock thresholds) cost a json.dumps per row otherwise."""


_JSON_STRINGS: dict[str, str] = {}


def json_string(value: str) -> str:
    """``value`` as a JSON string literal, remembered (labels and titles repeat)."""
    done = _JSON_STRINGS.get(value)
    if done is None:
        done = _JSON_STRINGS[value] = json.dumps(value)
    return done


_ESCAPED: dict[str, str] = {}


def _copy_text_cached(value: str) -> str:
    """``_copy_text`` remembered for the few thousand texts drawn from the pools."""
    done = _ESCAPED.get(value)
    if done is None:
        done = _copy_text(value)
        if len(_ESCAPED) < 50_000:
            _ESCAPED[value] = done
    return done


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


TEXT_FIELDS = ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FSMField")


def _pg_line(fields: Sequence[Any]) -> Callable[[tuple[Any, ...]], str]:
    """A function writing one row as a line of COPY text, compiled for the table's column
    types: a call per row rather than per value (the load's Python cost at 10 million rows)."""
    parts = []
    for i, f in enumerate(fields):
        kind, v = f.get_internal_type(), f"r[{i}]"
        if kind == "DateTimeField":
            expr = f"iso({v})"
        elif kind == "JSONField":
            expr = f"esc_json({v} if {v}.__class__ is RawJson else dumps({v}))"
        elif kind == "BooleanField":
            expr = f"('t' if {v} else 'f')"
        elif kind in TEXT_FIELDS:
            expr = f"esc({v})"
        else:
            expr = v
        if f.null and kind != "BooleanField":
            expr = f"(NULL if {v} is None else {expr})"
        parts.append("{" + expr + "}")
    source = 'def line(r):\n    return f"' + "\\t".join(parts) + '\\n"\n'
    scope: dict[str, Any] = {
        "iso": iso,
        "esc": _copy_text_cached,
        "esc_json": _copy_text,
        "dumps": json.dumps,
        "RawJson": RawJson,
        "NULL": "\\N",
    }
    exec(source, scope)  # noqa: S102 - source built above from field types only
    return scope["line"]


def _sqlite_converter(f: Any, connection: Any) -> Callable[[Any], Any]:
    if f.get_internal_type() == "JSONField":
        return lambda v: f.get_db_prep_save(
            json.loads(v) if isinstance(v, RawJson) else v, connection
        )
    if f.get_internal_type() == "DateTimeField":
        return lambda v: (
            None if v is None else f.get_db_prep_save(datetime.fromtimestamp(v, UTC), connection)
        )
    return lambda v: f.get_db_prep_save(v, connection)


class CopyWriter:
    """Runs the COPYs on a thread of its own, so PostgreSQL parses and stores one chunk while
    Python builds the next (psycopg2 lets go of the GIL while the server works)."""

    def __init__(self, connection: Any) -> None:
        connection.ensure_connection()
        self.raw = connection.connection
        self.jobs: queue.Queue[tuple[Table, str, str] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            table, sql, text = job
            if self.error is not None:
                continue
            started = time.perf_counter()
            try:
                with self.raw.cursor() as cursor:
                    cursor.copy_expert(sql, io.StringIO(text))
            except BaseException as exc:  # handed to the loading thread at its next call
                self.error = exc
            table.seconds += time.perf_counter() - started

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, table: Table, sql: str, text: str) -> None:
        self._check()
        self.jobs.put((table, sql, text))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        self._check()


@dataclass
class Table:
    """One table being loaded: rows are tuples in ``names`` order (model field names; a
    foreign key takes the id; a moment is an epoch float). Flushed every CHUNK_ROWS rows:
    COPY on PostgreSQL, executemany elsewhere."""

    model: Any
    names: Sequence[str]
    connection: Any
    writer: CopyWriter | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    count: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        fields = [self.model._meta.get_field(n) for n in self.names]
        self.table = self.model._meta.db_table
        self.columns = [f.column for f in fields]
        self.postgres = self.connection.vendor == "postgresql"
        if self.postgres:
            self.line = _pg_line(fields)
        else:
            self.converters = [_sqlite_converter(f, self.connection) for f in fields]

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def extend(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for row in rows:
            self.add(row)

    def flush(self) -> None:
        if not self.rows:
            return
        started = time.perf_counter()
        qn = self.connection.ops.quote_name
        columns = ", ".join(qn(c) for c in self.columns)
        sql = f"COPY {qn(self.table)} ({columns}) FROM STDIN"
        if self.postgres and self.writer is not None:
            self.writer.submit(self, sql, "".join(map(self.line, self.rows)))
            self.count += len(self.rows)
            self.rows = []
            return
        with self.connection.cursor() as cursor:
            if self.postgres:
                cursor.copy_expert(sql, io.StringIO("".join(map(self.line, self.rows))))
            else:
                convs = self.converters
                marks = ", ".join(["%s"] * len(convs))
                cursor.executemany(
                    f"INSERT INTO {qn(self.table)} ({columns}) VALUES ({marks})",
                    [tuple(c(v) for c, v in zip(convs, row, strict=True)) for row in self.rows],
                )
        self.count += len(self.rows)
        self.rows = []
        self.seconds += time.perf_counter() - started


# --- business time --------------------------------------------------------------------------
class Timeline:
    """A calendar's working windows over the data's years as prefix sums, so business seconds
    between two moments and the moment N business seconds on cost a bisection, not a walk day
    by day (sla.calendar.CalendarSpec gives the same answers; a test compares them)."""

    def __init__(self, spec: Any, start: float, end: float) -> None:
        self.always_open = spec.always_open
        if self.always_open:
            return
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.cum: list[float] = []  # business seconds before each window
        total = 0.0
        begin = datetime.fromtimestamp(start, UTC)
        while begin.timestamp() < end:
            # windows_from looks three years ahead at most: walk on from where it stopped
            for ws, we in spec.windows_from(begin):
                s, e = ws.timestamp(), we.timestamp()
                if s > end:
                    break
                self.starts.append(s)
                self.ends.append(e)
                self.cum.append(total)
                total += e - s
                begin = we
            else:
                continue
            break
        self.cum_end = [
            c + (e - s) for c, s, e in zip(self.cum, self.starts, self.ends, strict=True)
        ]

    def _position(self, t: float) -> float:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.cum[i] + min(t, self.ends[i]) - self.starts[i]

    def seconds(self, a: float, b: float) -> float:
        if b <= a:
            return 0.0
        if self.always_open:
            return b - a
        return self._position(b) - self._position(a)

    def add(self, a: float, seconds: float) -> float:
        if self.always_open:
            return a + seconds
        if seconds <= 0:
            return a
        goal = self._position(a) + seconds
        j = bisect_left(self.cum_end, goal)
        return self.starts[j] + (goal - self.cum[j])


# --- the plan -----------------------------------------------------------------------------
@dataclass
class Plan:
    incidents: int
    requesters: int
    problems: int
    changes: int
    work_items: int
    releases_per_project: int

    @classmethod
    def for_incidents(cls, n: int) -> Plan:
        scale = n / FULL_INCIDENTS
        return cls(
            incidents=n,
            requesters=max(50, round(20_000 * scale)),
            problems=max(3, round(n * 0.01)),
            changes=max(2, round(n * 0.005)),
            work_items=max(30, round(50_000 * scale)),
            releases_per_project=max(2, round(12 * min(1.0, scale * 10))),
        )


# 30 teams: name, tier, members
DESK = "Service Desk"
TIER1_TEAMS = [(DESK, 40), ("VIP Desk", 8), ("Field Services", 10)]
AREAS = [
    "Payroll & HR",
    "Finance",
    "Customer Channels",
    "Mobile",
    "Logistics",
    "Sales",
    "Data Platform",
    "Identity",
    "Workplace",
    "Network",
    "Manufacturing",
    "Procurement",
    "Marketing",
]
TIER2_TEAMS = [(f"{a} Support", 8) for a in AREAS]
TIER3_TEAMS = [(f"{a} Development", 6) for a in AREAS] + [("Platform Engineering", 6)]
SERVICE_NOUNS = ["Portal", "Backoffice", "Reporting", "Integration"]

TITLES = [
    "Cannot log in to {s}",
    "{s} is very slow this morning",
    "Error 500 when saving in {s}",
    "{s} report shows wrong totals",
    "Export from {s} fails",
    "Password reset for {s} never arrives",
    "{s} page times out",
    "Button does nothing in {s}",
    "Data missing in {s} after update",
    "Access request for {s}",
    "{s} sends duplicate emails",
    "Printing from {s} fails",
]
DESCRIPTIONS = [
    "Since this morning I get an error every time I try. Colleagues see the same.",
    "It worked yesterday. Nothing changed on my side as far as I know.",
    "Screenshot attached. Happens in Chrome and Edge.",
    "Urgent: the team cannot work until this is fixed.",
    "Happens only for some records, I could not find a pattern.",
]
PUBLIC_REPLIES = [
    "Thanks, we are looking into it.",
    "Could you tell us when it last worked?",
    "We have reproduced the issue and are working on a fix.",
    "Is this still happening after clearing the cache?",
    "It happens again this morning.",
    "Thanks, that works now.",
]
INTERNAL_NOTES = [
    "Checked the logs: timeouts from the database around 09:00.",
    "Looks like the same root cause as last week's incidents.",
    "Vendor ticket raised, waiting for their answer.",
    "Restarted the application pool; monitoring.",
]
CATEGORIES = ["software", "hardware", "network", "access", "data", "inquiry", "other"]
CATEGORY_WEIGHTS = [40, 8, 10, 20, 10, 8, 4]
LEVELS = ["high", "medium", "low"]
IMPACT_WEIGHTS = [8, 50, 42]
URGENCY_WEIGHTS = [12, 50, 38]
HOLD_REASONS = ["awaiting_requester", "awaiting_vendor", "awaiting_change"]
RESOLUTIONS = ["fixed", "workaround", "user_error", "not_reproducible"]
# Of the open incidents, the share in the Service Desk's queue (300 000 of 400 000 at 1M).
DESK_SHARE_OF_OPEN = 0.75
OPEN_SHARE = 0.40


@dataclass
class Org:
    groups: dict[str, int]
    teams: list[tuple[int, str, int]]  # id, name, tier
    members: dict[int, list[int]]
    labels: dict[int, str]  # user and team labels for the audit trail ({"id", "label"})
    team_labels: dict[int, str]
    services: list[tuple[int, str, int, int | None]]  # id, name, support team, dev team
    requesters: list[int]
    managers: dict[str, int]


def _user_rows(
    users: list[tuple[int, str, str, str]], password: str, joined: float, role_ids: dict[int, int]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rows, group_rows = [], []
    for uid, username, first, last in users:
        admin = username == "admin"
        rows.append(
            (uid, password, None, admin, username, first, last, f"{username}@bench.example")
            + (admin, True, joined)
        )
        group_rows.append((uid, role_ids[uid]))
    return rows, group_rows


def _load_org(conn: Any, plan: Plan, rnd: random.Random, now: float, tables: dict) -> Org:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from core.models import Service, Team
    from core.roles import Role, ensure_role_groups

    User = get_user_model()
    ensure_role_groups()
    groups = dict(Group.objects.values_list("name", "id"))
    password = make_password(PASSWORD)
    users: list[tuple[int, str, str, str]] = []
    role_of: dict[int, int] = {}
    labels: dict[int, str] = {}

    def person(username: str, first: str, last: str, role: Role) -> int:
        uid = len(users) + 1
        users.append((uid, username, first, last))
        role_of[uid] = groups[role.value]
        labels[uid] = username  # what str(user) gives: the audit trail's label
        return uid

    managers = {
        "admin": person("admin", "Ada", "Admin", Role.ADMINISTRATOR),
        "incident_manager": person("incident_manager", "Ines", "Manager", Role.INCIDENT_MANAGER),
        "problem_manager": person("problem_manager", "Pavel", "Manager", Role.PROBLEM_MANAGER),
        "change_manager": person("change_manager", "Chloe", "Manager", Role.CHANGE_MANAGER),
        "release_manager": person("release_manager", "Rob", "Manager", Role.RELEASE_MANAGER),
        "project_manager": person("project_manager", "Priya", "Manager", Role.PROJECT_MANAGER),
    }
    teams: list[tuple[int, str, int]] = []
    members: dict[int, list[int]] = {}
    counters = {1: 0, 2: 0, 3: 0}
    prefix = {1: ("agent", Role.SERVICE_DESK_AGENT), 2: ("support", Role.SECOND_LINE)}
    prefix[3] = ("dev", Role.DEVELOPER)
    for tier, specs in ((1, TIER1_TEAMS), (2, TIER2_TEAMS), (3, TIER3_TEAMS)):
        for name, size in specs:
            tid = len(teams) + 1  # the Service Desk is team 1: /desk/?queue=team-1
            teams.append((tid, name, tier))
            word, role = prefix[tier]
            members[tid] = []
            for _ in range(size):
                counters[tier] += 1
                n = counters[tier]
                members[tid].append(person(f"{word}{n:03d}", word.title(), f"{n:03d}", role))
    requesters = [
        person(f"requester{n:05d}", "Requester", f"{n:05d}", Role.REQUESTER)
        for n in range(1, plan.requesters + 1)
    ]
    joined = now - (YEARS + 0.5) * 365 * DAY
    rows, group_rows = _user_rows(users, password, joined, role_of)
    user_table = Table(
        User,
        ["id", "password", "last_login", "is_superuser", "username", "first_name", "last_name"]
        + ["email", "is_staff", "is_active", "date_joined"],
        conn,
    )
    user_table.extend(rows)
    tables["users"] = user_table
    through = Table(User.groups.through, ["user", "group"], conn)
    through.extend(group_rows)
    tables["user groups"] = through
    user_table.flush()
    through.flush()

    team_table = Table(
        Team,
        ["id", "name", "tier", "description", "email", "lead", "support_share", "is_active"],
        conn,
    )
    for tid, name, tier in teams:
        team_table.add((tid, name, tier, "", "", members[tid][0], 20, True))
    team_table.flush()
    member_table = Table(Team.members.through, ["team", "user"], conn)
    member_table.extend((tid, uid) for tid, ids in members.items() for uid in ids)
    member_table.flush()
    tables["teams"], tables["team members"] = team_table, member_table

    support_ids = [t for t, _, tier in teams if tier == 2]
    dev_ids = [t for t, _, tier in teams if tier == 3]
    services: list[tuple[int, str, int, int | None]] = []
    for area_index, area in enumerate(AREAS):
        for noun in SERVICE_NOUNS[: 4 if area_index < 11 else 3]:
            services.append(
                (
                    len(services) + 1,
                    f"{area} {noun}",
                    support_ids[area_index],
                    # a vendor-run service has no in-house 3rd line
                    None if noun == "Integration" and area_index % 4 == 3 else dev_ids[area_index],
                )
            )
    services = services[:50]
    service_table = Table(
        Service,
        ["id", "name", "description", "support_team", "development_team", "is_active"],
        conn,
    )
    service_table.extend((sid, name, "", sup, dev, True) for sid, name, sup, dev in services)
    service_table.flush()
    tables["services"] = service_table
    return Org(
        groups=groups,
        teams=teams,
        members=members,
        labels=labels,
        team_labels={tid: name for tid, name, _ in teams},
        services=services,
        requesters=requesters,
        managers=managers,
    )


# --- incidents, their trail and clocks ------------------------------------------------------
@dataclass
class Clocks:
    """The SLA policies of incidents and their calendars' timelines."""

    # priority -> policy id, response and resolution seconds, thresholds (and as JSON), calendar
    policies: dict[int, tuple[int, int, int, list[int], RawJson, Timeline]]

    def rows(
        self,
        *,
        ct: int,
        inc: int,
        priority: int,
        service: int,
        team: int | None,
        created: float,
        responded: float | None,
        hold: float | None,
        resolved: float | None,
        cancelled: float | None,
        last: float,
        now: float,
    ) -> list[tuple[Any, ...]]:
        """The two clocks as the SLA engine would hold them now (sla.engine): a clock runs
        from creation until the response (or resolution) stops it, pauses at a hold, ends
        cancelled with the incident; a threshold whose moment has come has fired (the sweep
        kept up), so ``next_check_at`` is the next threshold still ahead and a missed target
        is a breach already handled."""
        pid, response, resolution, thresholds, thresholds_json, line = self.policies[priority]
        out = []
        for target, seconds, stop in (
            ("response", response, responded),
            ("resolution", resolution, resolved),
        ):
            moments = [line.add(created, p / 100 * seconds) for p in thresholds]
            due = moments[-1]
            paused_since = running_since = next_check = None
            stopped: float | None = None
            state = None
            if cancelled is not None:
                # cancelling stops every clock, a met response clock too (sla.engine.apply)
                stopped, end, state = (
                    cancelled,
                    stop if stop is not None else cancelled,
                    "cancelled",
                )
                elapsed, due_at = line.seconds(created, end), due
            elif stop is not None:
                stopped = end = stop
                elapsed, due_at = line.seconds(created, stop), due
            elif hold is not None and target == "resolution":
                end = hold
                elapsed = line.seconds(created, hold)
                paused_since, due_at, state = hold, None, "paused"
            else:
                end = now
                running_since = last  # each transition folds the time so far into elapsed
                elapsed = line.seconds(created, last)
                due_at = due
            fired = max(
                (p for p, m in zip(thresholds, moments, strict=True) if m <= end), default=0
            )
            breached = elapsed >= seconds or fired >= 100
            if breached:
                fired = 100
            if running_since is not None:
                pending = [m for p, m in zip(thresholds, moments, strict=True) if p > fired]
                next_check = pending[0] if pending else None
            if state is None:
                if stopped is not None:
                    state = "breached" if breached else "met"
                else:
                    state = "breached" if breached else "running"
            breached_at = due if breached else None
            out.append(
                (
                    ct,
                    inc,
                    target,
                    pid,
                    seconds,
                    thresholds_json,
                    state,
                    breached,
                    elapsed,
                    running_since,
                    0.0,
                    paused_since,
                    created,
                    stopped,
                    due_at,
                    next_check,
                    fired,
                    breached_at,
                    breached_at,  # handled: the escalation ran when it breached
                    priority,
                    service,
                    team,
                )
            )
        return out


CLOCK_FIELDS = [
    "content_type",
    "object_id",
    "target",
    "policy",
    "target_seconds",
    "thresholds",
    "state",
    "breached",
    "elapsed_seconds",
    "running_since",
    "paused_seconds",
    "paused_since",
    "started_at",
    "stopped_at",
    "due_at",
    "next_check_at",
    "fired",
    "breached_at",
    "breach_handled_at",
    "priority",
    "service",
    "team",
]
INCIDENT_FIELDS = [
    "id",
    "number",
    "title",
    "description",
    "requester",
    "service",
    "category",
    "impact",
    "urgency",
    "priority",
    "major_incident",
    "status",
    "team",
    "assignee",
    "tier",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
    "reopen_count",
    "created_at",
    "updated_at",
    "responded_at",
    "resolved_at",
    "closed_at",
    "problem",
    "caused_by_change",
    "duplicate_of",
    "parent",
    "sla_breached",  # from the clocks, with sla_due_at and sla_risk_due_at, in after_load
]
AUDIT_FIELDS = [
    "content_type",
    "object_id",
    "actor",
    "action",
    "from_state",
    "to_state",
    "changes",
    "comment",
    "created_at",
]
COMMENT_FIELDS = ["content_type", "object_id", "author", "body", "public", "created_at"]


def _pool(values: Sequence[Any], weights: Sequence[int]) -> list[Any]:
    """``values`` repeated by their whole-number weights: ``choice`` of it is a weighted pick."""
    return [v for v, w in zip(values, weights, strict=True) for _ in range(w)]


def _model(label: str) -> Callable[[], Any]:
    def get() -> Any:
        from django.apps import apps

        return apps.get_model(label)

    return get


INCIDENT_TABLES = [
    ("incidents", _model("itsm.Incident"), INCIDENT_FIELDS),
    ("audit rows", _model("core.AuditEvent"), AUDIT_FIELDS),
    ("comments", _model("core.Comment"), COMMENT_FIELDS),
    ("sla clocks", _model("sla.SlaClock"), CLOCK_FIELDS),
]


def _creation_moments(n: int, now: float, rnd: random.Random) -> list[tuple[float, bool]]:
    """(created_at, open?) in creation order: closed ones spread evenly over the years, open
    ones weighted to the recent past (a backlog has a long tail)."""
    span = YEARS * 365 * DAY
    open_n = round(n * OPEN_SHARE)
    moments = [(now - span * rnd.random() ** 2.5 - 60, True) for _ in range(open_n)]
    moments += [(now - span * rnd.random() - 60, False) for _ in range(n - open_n)]
    moments.sort()
    return moments


def _load_incidents(
    conn: Any,
    plan: Plan,
    org: Org,
    rnd: random.Random,
    now: float,
    tables: dict,
    problems_by_service: dict[int, list[int]],
    workers: int,
    bulk: bool,
) -> None:
    """Incidents with their trail and clocks, in ``workers`` processes (each its own slice of
    numbers and its own connection) when more than one: building the rows is the load's
    Python cost, and PostgreSQL takes COPYs from several sessions at once."""
    moments = _creation_moments(plan.incidents, now, rnd)
    if workers <= 1:
        _incident_part(conn, org, now, problems_by_service, moments, 0, rnd, tables)
        return
    import multiprocessing

    from django.db import connections

    connections.close_all()  # a forked child must not share the parent's socket
    size = -(-len(moments) // workers)
    parts = [
        (org, now, problems_by_service, moments[k * size : (k + 1) * size], k * size)
        + (rnd.randrange(2**32), bulk)
        for k in range(workers)
    ]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.starmap(_incident_part_in_child, parts)
    _session_settings(conn, bulk)
    for name, model, names in INCIDENT_TABLES:
        table = tables[name] = Table(model(), names, conn)
        table.count = sum(r[name][0] for r in results)
        table.seconds = sum(r[name][1] for r in results)


def _incident_part_in_child(
    org: Org,
    now: float,
    problems_by_service: dict[int, list[int]],
    moments: list[tuple[float, bool]],
    offset: int,
    random_seed: int,
    bulk: bool,
) -> dict[str, tuple[int, float]]:
    from django.db import connection

    _session_settings(connection, bulk)
    tables: dict[str, Table] = {}
    rnd = random.Random(random_seed)
    _incident_part(connection, org, now, problems_by_service, moments, offset, rnd, tables)
    connection.close()
    return {name: (t.count, t.seconds) for name, t in tables.items()}


def _incident_part(
    conn: Any,
    org: Org,
    now: float,
    problems_by_service: dict[int, list[int]],
    moments: list[tuple[float, bool]],
    offset: int,
    rnd: random.Random,
    tables: dict,
) -> None:
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType

    from itsm.models import Incident
    from sla.models import SlaPolicy

    ct = ContentType.objects.get_for_model(Incident).id
    matrix = {k: int(v) for k, v in settings.INCIDENT_PRIORITY_MATRIX.items()}
    span_start = now - (YEARS + 1) * 365 * DAY
    lines: dict[int, Timeline] = {}
    policies = {}
    for p in SlaPolicy.objects.filter(ticket_type="incident", service__isnull=True).select_related(
        "calendar"
    ):
        if p.priority is None or p.priority in policies:
            continue
        if p.calendar_id not in lines:
            lines[p.calendar_id] = Timeline(p.calendar.spec(), span_start, now + 400 * DAY)
        policies[p.priority] = (
            p.pk,
            p.target_seconds("response"),
            p.target_seconds("resolution"),
            p.thresholds(),
            RawJson(json.dumps(p.thresholds())),
            lines[p.calendar_id],
        )
    clocks = Clocks(policies)
    writer = CopyWriter(conn) if conn.vendor == "postgresql" else None
    for name, model, names in INCIDENT_TABLES:
        tables[name] = Table(model(), names, conn, writer)
    incidents, audits = tables["incidents"], tables["audit rows"]
    comments, clock_table = tables["comments"], tables["sla clocks"]

    desk = org.teams[0][0]
    desk_agents = org.members[desk]
    labels, team_labels = org.labels, org.team_labels
    service_weights = [1.0 / (i + 1) ** 0.6 for i in range(len(org.services))]
    services = rnd.choices(org.services, service_weights, k=len(moments))
    choice, rand, expo = rnd.choice, rnd.random, rnd.expovariate
    # weighted picks as draws from a pool: random.choices per value cost a third of the time
    impacts, urgencies = _pool(LEVELS, IMPACT_WEIGHTS), _pool(LEVELS, URGENCY_WEIGHTS)
    categories = _pool(CATEGORIES, CATEGORY_WEIGHTS)
    desk_open = _pool(["new", "assigned", "in_progress", "on_hold"], [40, 25, 22, 13])
    escalated_open = _pool(["assigned", "in_progress", "on_hold"], [30, 50, 20])
    depths = _pool([1, 2, 3], [60, 30, 10])

    # the audit trail's {"id", "label"} of a user, team or service, as JSON text
    def refs(names: dict[int, str]) -> dict[int, str]:
        return {k: f'{{"id": {k}, "label": {json_string(v)}}}' for k, v in names.items()}

    user_ref, team_ref = refs(labels), refs(team_labels)
    service_ref = refs({sid: name for sid, name, _, _ in org.services})
    notes = "Corrected the configuration and verified with the requester."
    empty = RawJson("{}")

    for index, (created, is_open) in enumerate(moments):
        iid = offset + index + 1
        sid, sname, support, development = services[index]
        impact, urgency = choice(impacts), choice(urgencies)
        priority = matrix[f"{impact}/{urgency}"]
        requester = choice(org.requesters)
        logger = requester if rand() < 0.8 else choice(desk_agents)
        title = choice(TITLES).format(s=sname)
        category = choice(categories)
        # the story: which transitions, in order, ending in the status wanted
        if is_open:
            if rand() < DESK_SHARE_OF_OPEN:
                depth = 1
                status = choice(desk_open)
            else:
                depth = 3 if development and rand() < 0.3 else 2
                status = choice(escalated_open)
        elif rand() < 0.08:
            depth, status = 1, "cancelled"
        else:
            depth = choice(depths)
            if depth == 3 and not development:
                depth = 2
            status = "closed"  # or resolved, if it was resolved less than 3 days ago
        steps: list[tuple[str, float]] = []  # transition, hours after the previous step
        if status != "new" and not (status == "cancelled" and rand() < 0.7):
            steps.append(("assign", expo(1 / 2)))
        steps += [("escalate", expo(1 / 6))] * (depth - 1)
        if status in ("in_progress", "on_hold", "closed"):
            steps.append(("start", expo(1 / 3)))
        if status == "on_hold":
            steps.append(("hold", expo(1 / 24)))
        if status == "closed":
            steps.append(("resolve", expo(1 / 36)))
        if status == "cancelled":
            steps.append(("cancel", expo(1 / 12)))
        total = sum(h for _, h in steps) * HOUR
        room = (now - created) * 0.9
        factor = min(1.0, room / total) if total else 1.0
        t = created
        step_moments = []
        for _, hours in steps:
            t += hours * HOUR * factor
            step_moments.append(t)
        closed_at = None
        if status == "closed":
            close = step_moments[-1] + rnd.uniform(HOUR, 3 * DAY)
            if close <= now:
                closed_at = close
            else:
                status = "resolved"

        team, tier, assignee = desk, 1, None
        responded = resolved = hold_at = cancel_at = None
        hold_reason = resolution_code = resolution_notes = ""
        state = "new"
        worker = choice(desk_agents)
        audit_rows = [
            (
                ct,
                iid,
                logger,
                "created",
                "",
                "new",
                RawJson(
                    f'{{"title": [null, {json_string(title)}], '
                    f'"requester": [null, {user_ref[requester]}], '
                    f'"service": [null, {service_ref[sid]}], "category": [null, "{category}"], '
                    f'"impact": [null, "{impact}"], "urgency": [null, "{urgency}"], '
                    f'"priority": [null, {priority}], "team": [null, {team_ref[desk]}], '
                    '"tier": [null, 1]}'
                ),
                "",
                created,
            )
        ]
        for (step, _), at in zip(steps, step_moments, strict=True):
            changes = empty
            comment, actor, before = "", worker, state
            if step == "assign":
                assignee, responded, state = worker, at, "assigned"
                changes = RawJson(
                    f'{{"assignee": [null, {user_ref[worker]}], '
                    f'"responded_at": [null, "{iso(at)}"]}}'
                )
            elif step == "escalate":
                tier += 1
                old_team, team = team, support if tier == 2 else development
                worker = choice(org.members[team])
                let_go = f', "assignee": [{user_ref[assignee]}, null]' if assignee else ""
                changes = RawJson(
                    f'{{"team": [{team_ref[old_team]}, {team_ref[team]}], '
                    f'"tier": [{tier - 1}, {tier}]{let_go}}}'
                )
                assignee, comment, state = None, "Needs knowledge beyond this line.", "assigned"
            elif step == "start":
                state = "in_progress"
                if assignee is None:
                    changes = RawJson(f'{{"assignee": [null, {user_ref[worker]}]}}')
                    assignee = worker
            elif step == "hold":
                hold_at, state = at, "on_hold"
                hold_reason = choice(HOLD_REASONS)
                changes = RawJson(f'{{"hold_reason": ["", "{hold_reason}"]}}')
                comment = "Waiting before we can continue."
            elif step == "resolve":
                resolved, state = at, "resolved"
                resolution_code, resolution_notes = choice(RESOLUTIONS), notes
                changes = RawJson(
                    f'{{"resolution_code": ["", "{resolution_code}"], '
                    f'"resolution_notes": ["", {json_string(notes)}]}}'
                )
            elif step == "cancel":
                cancel_at, state, actor = at, "cancelled", requester
                comment = "Sorted itself out, sorry."
            audit_rows.append((ct, iid, actor, step, before, state, changes, comment, at))
        if closed_at is not None:
            state = "closed"
            audit_rows.append(
                (ct, iid, requester, "close", "resolved", "closed", empty, "Works now.", closed_at)
            )
        assert state == status, (state, status)
        last = audit_rows[-1][-1]
        # comments: fewer on fresh tickets, more on finished ones (about 3 on average)
        mean = 0.8 if status == "new" else (2.6 if is_open else 3.6)
        comment_rows = []
        end = closed_at or last if not is_open else now
        for _ in range(int(rand() * 2 * mean + 0.5)):
            at = created + (end - created) * rand()
            public = rand() < 0.68
            author = (requester if rand() < 0.5 else worker) if public else worker
            body = choice(PUBLIC_REPLIES) if public else choice(INTERNAL_NOTES)
            comment_rows.append((ct, iid, author, body, public, at))
        comment_rows.sort(key=lambda r: r[-1])
        updated = max(last, comment_rows[-1][-1]) if comment_rows else last
        linked = problems_by_service.get(sid)
        problem = choice(linked) if linked and rand() < 0.04 else None
        incidents.add(
            (
                iid,
                1000 + iid,
                title,
                choice(DESCRIPTIONS),
                requester,
                sid,
                category,
                impact,
                urgency,
                priority,
                False,
                status,
                team,
                assignee,
                tier,
                hold_reason,
                resolution_code,
                resolution_notes,
                0,
                created,
                updated,
                responded,
                resolved,
                closed_at if status == "closed" else cancel_at,
                problem,
                None,
                None,
                None,
                False,
            )
        )
        audits.extend(audit_rows)
        comments.extend(comment_rows)
        clock_table.extend(
            clocks.rows(
                ct=ct,
                inc=iid,
                priority=priority,
                service=sid,
                team=team,
                created=created,
                responded=responded or (resolved if status in ("resolved", "closed") else None),
                hold=hold_at,
                resolved=resolved,
                cancelled=cancel_at,
                last=last,
                now=now,
            )
        )
    for name in ("incidents", "audit rows", "comments", "sla clocks"):
        tables[name].flush()
    if writer is not None:
        writer.close()


# --- problems, changes, projects, releases, work items ------------------------------------
def _load_problems_and_changes(
    conn: Any, plan: Plan, org: Org, rnd: random.Random, now: float, tables: dict
) -> dict[int, list[int]]:
    from django.conf import settings

    from itsm.models import Change, Problem

    matrix = {k: int(v) for k, v in settings.INCIDENT_PRIORITY_MATRIX.items()}
    span = YEARS * 365 * DAY
    problems = tables["problems"] = Table(
        Problem,
        [
            "id",
            "number",
            "title",
            "description",
            "service",
            "category",
            "impact",
            "urgency",
            "priority",
            "status",
            "created_by",
            "assignee",
            "team",
            "root_cause",
            "workaround",
            "workaround_published_at",
            "fix_description",
            "resolution_notes",
            "created_at",
            "updated_at",
            "known_error_at",
            "resolved_at",
            "closed_at",
            "fix_change",
        ],
        conn,
    )
    by_service: dict[int, list[int]] = {}
    pm = org.managers["problem_manager"]
    for pid in range(1, plan.problems + 1):
        sid, sname, support, _ = rnd.choice(org.services)
        impact, urgency = rnd.choice(LEVELS), rnd.choice(LEVELS)
        created = now - span * rnd.random()
        status = rnd.choices(
            ["new", "investigating", "known_error", "resolved", "closed", "cancelled"],
            [10, 20, 25, 5, 35, 5],
        )[0]
        staffed = status != "new"
        known = (
            created + (now - created) * 0.3
            if status in ("known_error", "resolved", "closed")
            else None
        )
        resolved = created + (now - created) * 0.6 if status in ("resolved", "closed") else None
        closed = created + (now - created) * 0.8 if status in ("closed", "cancelled") else None
        problems.add(
            (
                pid,
                1000 + pid,
                f"Recurring failures in {sname}",
                "Several incidents share this symptom.",
                sid,
                "software",
                impact,
                urgency,
                matrix[f"{impact}/{urgency}"],
                status,
                pm,
                rnd.choice(org.members[support]) if staffed else None,
                support if staffed else None,
                "Connection pool exhausted under load." if known else "",
                "Restart the service." if known else "",
                known,
                "",
                "Fixed by the configuration change." if resolved else "",
                created,
                closed or resolved or known or created,
                known,
                resolved,
                closed,
                None,
            )
        )
        by_service.setdefault(sid, []).append(pid)
    problems.flush()

    changes = tables["changes"] = Table(
        Change,
        [
            "id",
            "number",
            "type",
            "title",
            "description",
            "reason",
            "impact",
            "risk_answers",
            "risk",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "outcome",
            "review_notes",
            "status",
            "requested_by",
            "implementer",
            "team",
            "freeze_override_reason",
            "freeze_override_by",
            "created_at",
            "updated_at",
            "closed_at",
        ],
        conn,
    )
    links = tables["change services"] = Table(Change.services.through, ["change", "service"], conn)
    cm = org.managers["change_manager"]
    for cid in range(1, plan.changes + 1):
        sid, sname, support, development = rnd.choice(org.services)
        team = development or support
        created = now - span * rnd.random()
        status = rnd.choices(
            ["draft", "submitted", "scheduled", "closed", "cancelled"], [5, 5, 10, 75, 5]
        )[0]
        planned = created + (now - created) * rnd.uniform(0.05, 0.5)
        done = status == "closed"
        if status == "scheduled":
            planned = now + rnd.uniform(1, 30) * DAY
        changes.add(
            (
                cid,
                1000 + cid,
                "normal",
                f"Upgrade {sname}",
                "Apply the vendor's maintenance release.",
                "Fixes known errors and security issues.",
                "medium",
                {},
                "" if status in ("draft", "submitted") else "low",
                "Deploy with the usual pipeline.",
                "Redeploy the previous version.",
                "Smoke tests.",
                planned if status not in ("draft", "submitted") else None,
                planned + 2 * HOUR if status not in ("draft", "submitted") else None,
                planned if done else None,
                planned + 2 * HOUR if done else None,
                "successful" if done else "",
                "Went as planned." if done else "",
                status,
                cm,
                rnd.choice(org.members[team]) if status in ("scheduled", "closed") else None,
                team,
                "",
                None,
                created,
                min(now, planned + 3 * HOUR) if done else created,
                min(now, planned + 3 * HOUR) if done or status == "cancelled" else None,
            )
        )
        links.add((cid, sid))
    changes.flush()
    links.flush()
    return by_service


def _load_projects(
    conn: Any, plan: Plan, org: Org, rnd: random.Random, now: float, tables: dict
) -> dict[str, int]:
    from projects.models import Project, Release, WorkItem

    dev_teams = [(tid, name) for tid, name, tier in org.teams if tier == 3]
    projects = tables["projects"] = Table(
        Project,
        ["id", "code", "name", "description", "team", "project_manager", "calendar"]
        + ["review_scope", "wip_limits", "archived_at", "archived_by"],
        conn,
    )
    project_services = tables["project services"] = Table(
        Project.services.through, ["project", "service"], conn
    )
    for pid, (tid, name) in enumerate(dev_teams, start=1):
        projects.add(
            (pid, f"P{pid:02d}", name.replace("Development", "Product"), "", tid)
            + (org.managers["project_manager"], None, "touched", {}, None, None)
        )
        project_services.extend((pid, sid) for sid, _, _, dev in org.services if dev == tid)
    projects.flush()
    project_services.flush()

    releases = tables["releases"] = Table(
        Release,
        ["id", "project", "version", "name", "planned_date", "description", "status", "change"]
        + ["notes", "uat_signed_off_by", "uat_signed_off_at", "went_live_at", "rolled_back_at"]
        + ["go_live_record", "original_planned_date", "created_at"],
        conn,
    )
    per = plan.releases_per_project
    release_ids: dict[int, list[tuple[int, str]]] = {}
    rid = 0
    for pid in range(1, len(dev_teams) + 1):
        for k in range(per):
            rid += 1
            # the last two are ahead (development, planning); the rest went live
            ahead = per - k
            status = "planning" if ahead == 1 else ("development" if ahead == 2 else "live")
            planned = now + (k - per + 2.5) * 60 * DAY
            live = planned if status == "live" else None
            releases.add(
                (rid, pid, f"{k // 4 + 1}.{k % 4}.0", "", date.fromtimestamp(planned), "")
                + (status, None, "", None, None, live, None, {}, None, planned - 90 * DAY)
            )
            release_ids.setdefault(pid, []).append((rid, status))
    releases.flush()

    items = tables["work items"] = Table(
        WorkItem,
        ["id", "kind", "number", "project", "title", "description", "priority", "severity"]
        + ["status", "assignee", "estimate_hours", "target_release", "fixed_in_release"]
        + ["iteration", "duplicate_of", "parent", "reported_by", "created_at", "updated_at"],
        conn,
    )
    numbers = {"defect": 1000, "enhancement": 1000}
    span = YEARS * 365 * DAY
    for wid in range(1, plan.work_items + 1):
        pid = rnd.randint(1, len(dev_teams))
        tid = dev_teams[pid - 1][0]
        kind = "defect" if rnd.random() < 0.6 else "enhancement"
        numbers[kind] += 1
        created = now - span * rnd.random() ** 1.5
        status = rnd.choices(
            [
                "open",
                "triaged",
                "in_progress",
                "in_review",
                "fixed",
                "released",
                "closed",
                "wont_fix",
            ],
            [20, 15, 10, 5, 5, 15, 25, 5],
        )[0]
        live = [r for r, s in release_ids[pid] if s == "live"]
        ahead = [r for r, s in release_ids[pid] if s != "live"]
        fixed_in = rnd.choice(live) if status in ("released", "closed") and live else None
        target = (
            rnd.choice(ahead)
            if status in ("triaged", "in_progress", "in_review", "fixed")
            else None
        )
        items.add(
            (
                wid,
                kind,
                numbers[kind],
                pid,
                f"{kind.title()}: {rnd.choice(TITLES).format(s='the app')}",
            )
            + ("", rnd.randint(1, 5), rnd.choice(["critical", "major", "minor", "trivial"]), status)
            + (
                rnd.choice(org.members[tid])
                if status in ("in_progress", "in_review", "fixed")
                else None,
            )
            + (None, target, fixed_in, None, None, None, rnd.choice(org.members[tid]), created)
            + (created + (now - created) * rnd.random() * 0.5,)
        )
    items.flush()
    return numbers


# --- the load -----------------------------------------------------------------------------
def seed(
    *,
    incidents: int,
    now: datetime | None = None,
    random_seed: int = 13,
    out: Callable[[str], None] = print,
    bulk: bool = False,
    workers: int = 1,
) -> dict[str, Table]:
    """Load the data set into Django's default database (migrated, empty of tickets).
    Returns the tables written, with their row counts and COPY/insert seconds.

    ``bulk`` (PostgreSQL, the command's default): foreign-key triggers off for the load and
    the secondary indexes of the four big tables built once after it rather than row by
    row. The rows are consistent by construction, and the test loads with both on.
    ``workers``: processes building the incidents, for a bulk load outside a transaction
    (each child needs its own committed session)."""
    from django.db import connection

    now_ts = (now or datetime.now(UTC)).timestamp()
    rnd = random.Random(random_seed)
    plan = Plan.for_incidents(incidents)
    tables: dict[str, Table] = {}
    bulk = bulk and connection.vendor == "postgresql"
    workers = workers if bulk and not connection.in_atomic_block else 1
    _session_settings(connection, bulk)
    try:
        return _seed(plan, now_ts, rnd, tables, out, bulk, workers)
    finally:
        if bulk:
            with connection.cursor() as cursor:
                cursor.execute("RESET session_replication_role")


def _seed(
    plan: Plan,
    now_ts: float,
    rnd: random.Random,
    tables: dict[str, Table],
    out: Callable[[str], None],
    bulk: bool,
    workers: int,
) -> dict[str, Table]:
    from django.core.management.color import no_style
    from django.db import connection

    from core.services import sequence_set

    org = _load_org(connection, plan, rnd, now_ts, tables)
    out(
        f"  organisation: {len(org.teams)} teams, {len(org.services)} services, "
        f"{tables['users'].count:,} users"
    )
    problems = _load_problems_and_changes(connection, plan, org, rnd, now_ts, tables)
    big = ["itsm_incident", "core_auditevent", "core_comment", "sla_slaclock"]
    postponed = _drop_secondary_indexes(connection, big) if bulk else []
    try:
        _load_incidents(connection, plan, org, rnd, now_ts, tables, problems, workers, bulk)
    finally:
        if postponed:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for _, definition in postponed:
                    cursor.execute(definition)
            out(f"  {len(postponed)} indexes built in {time.perf_counter() - started:.1f} s")
    numbers = _load_projects(connection, plan, org, rnd, now_ts, tables)

    # ids were given explicitly: move each table's id sequence past them
    models = {t.model for t in tables.values()}
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    # Tandem's own key sequences: the next incident, problem, change or item follows these
    last = {
        "incident": 1000 + plan.incidents,
        "problem": 1000 + plan.problems,
        "change": 1000 + plan.changes,
        **numbers,
    }
    for name, value in last.items():
        sequence_set(name, value)
    return tables


def _session_settings(connection: Any, bulk: bool) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # a lost bench database is re-seeded, never repaired: skip waiting for the disk
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        if bulk:
            cursor.execute("SET session_replication_role = replica")


def _drop_secondary_indexes(connection: Any, tables: list[str]) -> list[tuple[str, str]]:
    """Drop the indexes of ``tables`` that back no constraint (primary keys and unique
    constraints stay) and have no predicate; returns (name, CREATE INDEX statement) to
    build them again."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
              -- partial indexes stay: their predicate, printed and read back, is another
              -- expression than the migration's, one the planner may not match to a query
              AND i.indpred IS NULL
            ORDER BY 1
            """,
            [tables],
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f"DROP INDEX {name}")
    return found


def after_load(connection: Any) -> None:
    """Rebuild what is derived from the loaded rows, then bring the planner's statistics and
    the visibility map up to date.

    Derived data (counter tables and the like) is rebuilt here, after every bulk load, so
    it matches the rows exactly. VACUUM sets the visibility map that index-only scans need
    (a fresh COPY has none, and autovacuum would set it in the middle of a load run); it
    cannot run inside a transaction, so a caller in one (a test) gets ANALYZE alone."""
    from dashboards.services import facts_collect
    from itsm.services.counts import incident_counts_rebuild, incident_sla_marks_rebuild

    # the queues' SLA order and filters (the engine keeps them from then on)
    incident_sla_marks_rebuild()
    incident_counts_rebuild()  # the queues' counts (the load ran without triggers)
    t0 = time.perf_counter()
    done = facts_collect(full=True)  # the dashboards' daily roll-ups, every day
    print(f"  dashboards' roll-ups: {done.rows:,} rows in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            cursor.execute("VACUUM (ANALYZE)")
        else:
            cursor.execute("ANALYZE")


# --- command line ---------------------------------------------------------------------------
def _server() -> str:
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[
        0
    ]


def _admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{_server()}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1 000 000 incidents")
    parser.add_argument("--incidents", type=int, help="an exact number (overrides --scale)")
    parser.add_argument("--db", default="tandem_bench", help="PostgreSQL database (re)created")
    parser.add_argument("--sqlite", metavar="PATH", help="a SQLite file instead (small scales)")
    parser.add_argument("--drop", action="store_true", help="drop --db and stop")
    parser.add_argument(
        "--checked",
        action="store_true",
        help="PostgreSQL: keep foreign-key checks and indexes live during the load (slower)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes building incidents (PostgreSQL)"
    )
    parser.add_argument("--seed", type=int, default=13, help="random seed")
    args = parser.parse_args()
    if args.drop:
        _admin(f'DROP DATABASE IF EXISTS "{args.db}"')
        print(f"dropped {args.db}")
        return
    n = args.incidents or round(FULL_INCIDENTS * args.scale)
    if args.sqlite:
        Path(args.sqlite).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.sqlite).resolve()}"
        where = args.sqlite
    else:
        _admin(f'DROP DATABASE IF EXISTS "{args.db}"')
        _admin(f'CREATE DATABASE "{args.db}"')
        os.environ["DATABASE_URL"] = f"{_server()}/{args.db}"
        where = os.environ["DATABASE_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    print(f"seeding {n:,} incidents into {where}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    print(f"  migrate: {migrated - started:.1f} s")
    # SQLite: one transaction, or each batch waits for its own commit
    with transaction.atomic() if args.sqlite else nullcontext():
        tables = seed(
            incidents=n, random_seed=args.seed, bulk=not args.checked, workers=args.workers
        )
    loaded = time.perf_counter()
    after_load(connection)
    done = time.perf_counter()
    print(f"  {'table':<16} {'rows':>12} {'write s':>9} {'rows/s':>10}")
    for name, table in tables.items():
        rate = table.count / table.seconds if table.seconds else 0
        print(f"  {name:<16} {table.count:>12,} {table.seconds:>9.1f} {rate:>10,.0f}")
    rows = sum(t.count for t in tables.values())
    print(
        f"  load {loaded - migrated:.1f} s ({rows / (loaded - migrated):,.0f} rows/s, "
        f"generating included) · after_load {done - loaded:.1f} s · total {done - started:.1f} s"
    )
    print(f"kept: DATABASE_URL={where}" if not args.sqlite else f"kept: {where}")


if __name__ == "__main__":
    main()
