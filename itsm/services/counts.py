"""The incident counts table (``itsm.models.counts``): the trigger that keeps it, and the
fold of its +1/-1 rows into one row per key.

The trigger is installed after every ``migrate`` (``itsm.apps``), not by one migration: on
SQLite a later migration that alters the incident table rebuilds it, and the rebuild drops
its triggers. Installing is idempotent; when the trigger was missing or written by an
older version, it is replaced and the counts are recounted from the incidents in the same
transaction.

The rows only grow between folds, and a count reads every row of its keys: the fold keeps
that read short. Exact under concurrency: the fold removes only the rows its statement
sees and writes back their sums, so a change committed meanwhile keeps its own row.
"""

from __future__ import annotations

from django.db import connection, transaction

from itsm.models import IncidentCount

KEY = "team_id, assignee_id, status, priority"

_FUNCTION_POSTGRES = f"""
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.team_id, OLD.assignee_id, OLD.status, OLD.priority)
            IS NOT DISTINCT FROM (NEW.team_id, NEW.assignee_id, NEW.status, NEW.priority) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (OLD.team_id, OLD.assignee_id, OLD.status, OLD.priority, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (NEW.team_id, NEW.assignee_id, NEW.status, NEW.priority, 1);
    END IF;
    RETURN NULL;
END """
_TRIGGER_POSTGRES = f"""
CREATE OR REPLACE FUNCTION itsm_incident_count() RETURNS trigger LANGUAGE plpgsql
    AS $${_FUNCTION_POSTGRES}$$;
CREATE TRIGGER itsm_incident_count AFTER INSERT OR DELETE
    OR UPDATE OF team_id, assignee_id, status, priority ON itsm_incident
    FOR EACH ROW EXECUTE FUNCTION itsm_incident_count();
"""
_TRIGGERS_SQLITE = [
    f"""CREATE TRIGGER itsm_incident_count_insert AFTER INSERT ON itsm_incident BEGIN
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (NEW.team_id, NEW.assignee_id, NEW.status, NEW.priority, 1);
    END""",
    # The last incident gone empties the counts instead: a flush deletes table by table in
    # no set order, and deleting the incidents after the counts left -1 rows behind
    # (PostgreSQL flushes with TRUNCATE, which fires no row trigger). Two triggers with a
    # WHEN each: SQLite evaluates a WHEN once per row, but would loop over the counts for
    # an uncorrelated NOT EXISTS in a DELETE's WHERE.
    f"""CREATE TRIGGER itsm_incident_count_delete AFTER DELETE ON itsm_incident
        WHEN EXISTS (SELECT 1 FROM itsm_incident)
    BEGIN
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (OLD.team_id, OLD.assignee_id, OLD.status, OLD.priority, -1);
    END""",
    """CREATE TRIGGER itsm_incident_count_emptied AFTER DELETE ON itsm_incident
        WHEN NOT EXISTS (SELECT 1 FROM itsm_incident)
    BEGIN
        DELETE FROM itsm_incidentcount;
    END""",
    f"""CREATE TRIGGER itsm_incident_count_update
        AFTER UPDATE OF team_id, assignee_id, status, priority ON itsm_incident
        WHEN OLD.team_id IS NOT NEW.team_id OR OLD.assignee_id IS NOT NEW.assignee_id
            OR OLD.status IS NOT NEW.status OR OLD.priority IS NOT NEW.priority
    BEGIN
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (OLD.team_id, OLD.assignee_id, OLD.status, OLD.priority, -1);
        INSERT INTO itsm_incidentcount ({KEY}, n)
        VALUES (NEW.team_id, NEW.assignee_id, NEW.status, NEW.priority, 1);
    END""",
]


def _installed(cur) -> bool:  # type: ignore[no-untyped-def]
    """The trigger is there as this version writes it (an older one is replaced)."""
    if connection.vendor == "postgresql":
        cur.execute(
            "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgname = 'itsm_incident_count'"
        )
        row = cur.fetchone()
        return row is not None and row[0] == _FUNCTION_POSTGRES
    cur.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'itsm_incident_count_%'"
    )
    return sorted(row[0] for row in cur.fetchall()) == sorted(_TRIGGERS_SQLITE)


def incident_count_trigger_install() -> bool:
    """Make sure the trigger keeps the counts; recount when it was missing or older.
    Returns True when it installed it. One transaction."""
    with transaction.atomic(), connection.cursor() as cur:
        if _installed(cur):
            return False
        if connection.vendor == "postgresql":
            cur.execute("LOCK TABLE itsm_incident IN SHARE ROW EXCLUSIVE MODE")
            cur.execute("DROP TRIGGER IF EXISTS itsm_incident_count ON itsm_incident")
            cur.execute(_TRIGGER_POSTGRES)
        else:
            for name in ("insert", "delete", "emptied", "update"):
                cur.execute(f"DROP TRIGGER IF EXISTS itsm_incident_count_{name}")
            for sql in _TRIGGERS_SQLITE:
                cur.execute(sql)
        _recount(cur)
        return True


def _recount(cur) -> None:  # type: ignore[no-untyped-def]
    cur.execute("DELETE FROM itsm_incidentcount")
    cur.execute(
        f"INSERT INTO itsm_incidentcount ({KEY}, n) "
        f"SELECT {KEY}, COUNT(*) FROM itsm_incident GROUP BY {KEY}"
    )


_FOLD_POSTGRES = f"""
WITH gone AS (DELETE FROM itsm_incidentcount RETURNING {KEY}, n)
INSERT INTO itsm_incidentcount ({KEY}, n)
SELECT {KEY}, SUM(n) FROM gone GROUP BY {KEY} HAVING SUM(n) <> 0
"""


def incident_counts_compact() -> int:
    """Fold the counts rows into one per (team, assignee, state, priority); returns the
    number of rows left. One transaction; safe to run twice or concurrently."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(_FOLD_POSTGRES)
        else:
            # SQLite has one writer at a time: read, delete and write back in one go.
            from django.db.models import Sum

            sums = list(
                IncidentCount.objects.values("team_id", "assignee_id", "status", "priority")
                .annotate(total=Sum("n"))
                .order_by()
            )
            IncidentCount.objects.all().delete()
            IncidentCount.objects.bulk_create(
                IncidentCount(
                    team_id=s["team_id"],
                    assignee_id=s["assignee_id"],
                    status=s["status"],
                    priority=s["priority"],
                    n=s["total"],
                )
                for s in sums
                if s["total"]
            )
        return IncidentCount.objects.count()


def incident_counts_rebuild() -> int:
    """Recount from the incidents themselves (after a bulk load that bypassed the
    trigger, or to check the counts). Locks the incident table against writes meanwhile."""
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("LOCK TABLE itsm_incident IN SHARE MODE")
            _recount(cur)
        return IncidentCount.objects.count()


def incident_sla_marks_rebuild() -> int:
    """Set every incident's SLA columns (``sla_due_at``, ``sla_breached``,
    ``sla_risk_due_at``) from its clocks, after a bulk load that wrote clocks without the
    SLA engine; returns the incidents changed. One transaction."""
    from itsm.models import Incident
    from sla.services import tickets_marks_rebuild

    return tickets_marks_rebuild(Incident)
