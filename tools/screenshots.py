"""Retake the README's screenshots: ``make screenshots`` (or ``.venv/bin/python
tools/screenshots.py``).

A fresh SQLite database in a temporary folder, migrated and seeded with the demo data
(``seed_demo``), served by ``runserver`` on a free port that this script starts and stops;
Debian's Chromium, driven by Playwright, signs in as each page's demo user and saves the
page at 1280×800 to ``docs/screenshots/<name>.png``. Nothing else is touched: not
``var/``, not ``DATABASE_URL``'s database.

``PAGES`` below is the list of shots: to point one at another page, change its path (a
``{placeholder}`` is filled by the record ``PICKERS`` chooses from the demo data).
``--only NAME`` retakes some; ``--reuse-db FILE`` seeds FILE once and reuses it after (a
seed takes a minute or two).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}


@dataclass(frozen=True)
class Shot:
    name: str  # the file under docs/screenshots/, and what it shows
    user: str  # the demo user who looks at it (password "demo")
    path: str  # the page; {placeholders} come from PICKERS
    # a selector scrolled to the top of the window (the interesting part above the fold)
    scroll_to: str = ""


# The shots, in the README's order.
PAGES = [
    Shot("portal", "requester", "/portal/"),
    Shot("agent-console", "agent", "/desk/"),
    Shot("incident", "agent", "/incidents/{incident}/"),
    Shot("developer-board", "developer", "/projects/{project}/"),
    Shot("release-gate", "release_manager", "/releases/{release}/"),
    Shot("cab-board", "change_manager", "/changes/cab/"),
    Shot("dashboard-incidents", "incident_manager", "/dashboards/incidents/"),
    Shot("dashboard-changes", "change_manager", "/dashboards/changes/"),
]


def pick_incident() -> str:
    """The demo's major incident (children, a public update, a knowledge article), else
    the open incident with the longest history."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Count, OuterRef, Subquery

    from core.models import AuditEvent
    from itsm.models import Incident

    major = Incident.objects.filter(major_incident=True).order_by("pk").first()
    if major is not None:
        return major.key
    ct = ContentType.objects.get_for_model(Incident)
    events = (
        AuditEvent.objects.filter(content_type=ct, object_id=OuterRef("pk"))
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    incident = (
        Incident.objects.filter(status__in=["assigned", "in_progress", "on_hold"])
        .annotate(n=Subquery(events))
        .order_by("-n", "pk")
        .first()
    )
    return incident.key  # type: ignore[union-attr]


def pick_project() -> str:
    """The project with the most work items."""
    from django.db.models import Count

    from projects.models import Project

    return Project.objects.annotate(n=Count("work_items")).order_by("-n", "pk").first().code  # type: ignore[union-attr]


def pick_release() -> str:
    """A release whose go-live gate is being evaluated (in testing)."""
    from projects.models import Release

    release = (
        Release.objects.filter(status__in=["awaiting_go_live", "testing"]).order_by("pk").first()
    )
    return str(release.pk)  # type: ignore[union-attr]


PICKERS: dict[str, Callable[[], str]] = {
    "incident": pick_incident,
    "project": pick_project,
    "release": pick_release,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database: Path) -> dict[str, str]:
    """Migrate and seed ``database`` (unless seeded already), then fill the placeholders."""
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["TANDEM_DATA_DIR"] = str(database.parent)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for name in ("REDIS_URL", "CACHE_KEY_PREFIX"):  # the embedded default, like `make run`
        os.environ.pop(name, None)
    # runserver serves the static files only in development
    os.environ.update(TANDEM_ENV="development", DEBUG="true", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    seeded = database.with_suffix(".seeded")
    if not seeded.exists():
        print(f"migrating and seeding {database} …", flush=True)
        call_command("migrate", verbosity=0)
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        seeded.touch()
    values = {key: pick() for key, pick in PICKERS.items()}
    connections.close_all()
    return values


def serve(port: int, log: Path) -> subprocess.Popen[bytes]:
    """runserver on ``port`` (its output in ``log``), once it answers /healthz."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"the server did not start:\n{tail}") from None
            time.sleep(0.3)


def shoot(base: str, shots: list[Shot], values: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        contexts: dict[str, object] = {}
        for shot in shots:
            context = contexts.get(shot.user)
            if context is None:
                context = contexts[shot.user] = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()  # type: ignore[attr-defined]
                page.goto(f"{base}/accounts/login/")
                page.fill("#id_username", shot.user)
                page.fill("#id_password", "demo")
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
                page.close()
            page = context.new_page()  # type: ignore[attr-defined]
            url = base + shot.path.format(**values)
            response = page.goto(url)
            if response is None or response.status != 200:
                raise SystemExit(f"{shot.name}: {url} answered {response and response.status}")
            page.wait_for_load_state("networkidle")
            if shot.scroll_to:
                page.locator(shot.scroll_to).first.scroll_into_view_if_needed()
                page.evaluate(
                    "s => document.querySelector(s).scrollIntoView({block: 'start'})",
                    shot.scroll_to,
                )
            target = OUT / f"{shot.name}.png"
            page.screenshot(path=str(target))
            page.close()
            print(f"{target.relative_to(ROOT)}  {url}  ({target.stat().st_size // 1024} KB)")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="a shot's name (repeat)")
    parser.add_argument("--reuse-db", type=Path, help="a SQLite file to seed once and keep")
    args = parser.parse_args()
    shots = [s for s in PAGES if not args.only or s.name in args.only]
    if not shots:
        raise SystemExit(f"no shot named {args.only}; there are {[s.name for s in PAGES]}")
    if not shutil.which(CHROMIUM):
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    folder = None
    if args.reuse_db:
        database = args.reuse_db.resolve()
        database.parent.mkdir(parents=True, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix="tandem-shots-")
        database = Path(folder) / "tandem.sqlite3"
    try:
        values = prepare(database)
        port = free_port()
        server = serve(port, database.parent / "server.log")
        try:
            shoot(f"http://127.0.0.1:{port}", shots, values)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
