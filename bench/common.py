"""What every benchmark here shares: a throwaway database, Django set up on it, migrated,
and dropped afterwards."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The throwaway PostgreSQL database: BENCH_DB names another, so benchmarks run side by
# side (by several people on one server) never drop each other's.
BENCH_DB = os.environ.get("BENCH_DB", "tandem_bench")


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")


def configure(args: argparse.Namespace) -> None:
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        return
    import psycopg2
    from psycopg2 import sql

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    base = server.rsplit("/", 1)[0]
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(BENCH_DB)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    conn.close()
    os.environ["DATABASE_URL"] = f"{base}/{BENCH_DB}"


def drop(args: argparse.Namespace) -> None:
    if args.sqlite or args.keep:
        return
    import psycopg2
    from django.db import connections
    from psycopg2 import sql

    connections.close_all()
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(BENCH_DB)))
    conn.close()


def run_in_throwaway_database(
    args: argparse.Namespace, run: Callable[[argparse.Namespace], None], **env: str
) -> None:
    """Create the database, set Django up on it (with ``env`` set first), migrate, run,
    then drop it (unless --keep)."""
    configure(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(env)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        run(args)
    finally:
        drop(args)
