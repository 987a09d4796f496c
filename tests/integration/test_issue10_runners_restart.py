"""Issue 10 #6: every runner Tandem ships brings back a process that dies, and runs the worker
in the shape that survives a broker restart (no gossip, no mingle)."""

from __future__ import annotations

import configparser
from pathlib import Path

import yaml
from django.conf import settings

BASE = Path(settings.BASE_DIR)


def test_issue10_docker_compose_restarts_web_worker_and_beat() -> None:
    """Issue 10 #6: docker-compose.yml restarts web, worker and beat whatever stopped them."""
    services = yaml.safe_load((BASE / "docker-compose.yml").read_text())["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["restart"] == "unless-stopped", name
    assert "--without-gossip" in services["worker"]["command"]
    assert "--without-mingle" in services["worker"]["command"]


def test_issue10_make_run_restarts_web_worker_and_beat() -> None:
    """Issue 10 #6: `make run`'s supervisord restarts each program, and the Makefile uses it."""
    conf = configparser.RawConfigParser()
    conf.read(BASE / "config" / "supervisord.conf")
    for name in ("web", "worker", "beat"):
        assert conf.getboolean(f"program:{name}", "autorestart"), name
    worker = conf.get("program:worker", "command")
    assert "--without-gossip" in worker and "--without-mingle" in worker
    makefile = (BASE / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") : makefile.index("\nserve:")]
    assert "supervisord -c config/supervisord.conf" in run
    assert "trap" not in run


def test_issue10_worker_retries_the_broker_forever() -> None:
    """Issue 10 #6: Celery's default gives up reconnecting after 100 tries and exits."""
    from config.celery import app

    assert app.conf.broker_connection_retry is True
    assert app.conf.broker_connection_retry_on_startup is True
    assert app.conf.broker_connection_max_retries is None
