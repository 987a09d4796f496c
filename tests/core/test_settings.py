"""Production settings refuse to start unsafely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "TANDEM_ENV", "DATABASE_URL"}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_needs_a_secret_key() -> None:
    res = _load(TANDEM_ENV="production", ALLOWED_HOSTS="tandem.example")
    assert res.returncode != 0 and "SECRET_KEY must be set" in res.stderr


def test_production_refuses_debug() -> None:
    res = _load(TANDEM_ENV="production", SECRET_KEY="s" * 50, DEBUG="true")
    assert res.returncode != 0 and "DEBUG must be off" in res.stderr


def test_production_starts_when_safe() -> None:
    res = _load(TANDEM_ENV="production", SECRET_KEY="s" * 50, DEBUG="false")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
