"""bench/load.py serves Tandem over plain HTTP on 127.0.0.1 with DEBUG off: the settings it
gives its gunicorn must not turn on what only an HTTPS install wants (issue 14 made those
the default with DEBUG off, and every request of the load then went to https)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.load import child_env  # noqa: E402


def test_the_load_runs_plain_http_with_debug_off() -> None:
    env = child_env(
        argparse.Namespace(
            database_url="postgres://postgres@127.0.0.1:5432/x",
            redis_url="redis://127.0.0.1:6379/5",
            conn_max_age=60,
        )
    )
    env.pop("PYTEST_XDIST_WORKER", None)
    env["SECRET_KEY"] = "s" * 50
    names = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from django.conf import settings; "
            f"print(json.dumps([getattr(settings, n) for n in {names!r}]))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [False, False, False, False]
