"""Connection settings for a scaled-out install (docs/scale-out.md) come from the
environment: persistent connections (CONN_MAX_AGE) and, behind pgbouncer's transaction
pooling, no server-side cursors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG = "postgres://postgres@127.0.0.1:5432/unused"


def _database_settings(**env: str) -> dict[str, object]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CONN_MAX_AGE", "DISABLE_SERVER_SIDE_CURSORS", "DATABASE_URL"}
    }
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(res.stdout)


def test_postgres_defaults_keep_connections_and_server_side_cursors() -> None:
    db = _database_settings(DATABASE_URL=PG)
    assert db["CONN_MAX_AGE"] == 60
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_transaction_pooling_settings_come_from_the_environment() -> None:
    db = _database_settings(DATABASE_URL=PG, CONN_MAX_AGE="0", DISABLE_SERVER_SIDE_CURSORS="true")
    assert db["CONN_MAX_AGE"] == 0
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
