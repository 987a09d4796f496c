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


def _cache_prefix(**env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CACHE_KEY_PREFIX", "PYTEST_XDIST_WORKER", "DATABASE_URL"}
    }
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.CACHES['default']['KEY_PREFIX'])",
        ],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_parallel_test_workers_keep_their_cache_keys_apart() -> None:
    """The suite's workers share one Redis database: a test in one worker that changed
    reference data moved refcache's shared version for every worker, and a query-count pin
    in another then reloaded what it had (CI: 9 statements where 6 are pinned). Each
    worker (and what it starts) has its own key prefix; an install names its own."""
    redis = "redis://127.0.0.1:6379/0"
    assert _cache_prefix(REDIS_URL=redis, PYTEST_XDIST_WORKER="gw1") == "gw1"
    assert _cache_prefix(REDIS_URL=redis) == ""
    assert _cache_prefix(REDIS_URL=redis, CACHE_KEY_PREFIX="tandem-a") == "tandem-a"
