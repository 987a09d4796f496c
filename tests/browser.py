"""Browser tests' shared parts: Debian's Chromium driven by Playwright's sync API against
pytest-django's ``live_server``, skipped (saying why) where either is missing. On a
failure the page's screenshot, HTML and console go to ``test-results/<test name>/``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
RESULTS = Path(__file__).resolve().parents[1] / "test-results"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

needs_browser = [
    pytest.mark.skipif(
        sync_playwright is None, reason="playwright is not installed (pip install playwright)"
    ),
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A browser context (1280×800 by default). Pages opened in it record their console;
    a failing test leaves each page's screenshot, HTML and console under test-results/."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses that
    # unless told the calls are made from synchronous test code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Playwright's sync API switches greenlets, and Django keeps one connection per
    # context: close each side's, or the test database cannot be dropped at the end.
    connections.close_all()
    with sync_playwright() as p:  # type: ignore[misc]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        consoles: dict[Any, list[str]] = {}

        def watch(page: Any) -> None:
            # Tandem's Content-Security-Policy forbids eval, which Playwright's own
            # wait_for_function uses to run its predicate in the page: poll with evaluate
            # (run by the DevTools protocol, outside the page's CSP) instead.
            page.wait_for_function = lambda expression, **kw: wait_until(page, expression, **kw)
            lines = consoles.setdefault(page, [])
            page.on("console", lambda m: lines.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: lines.append(f"pageerror: {e}"))

        context.on("page", watch)
        context.console_lines = consoles  # type: ignore[attr-defined]
        yield context
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            folder = RESULTS / request.node.name
            folder.mkdir(parents=True, exist_ok=True)
            for n, page in enumerate(context.pages):
                try:
                    page.screenshot(path=str(folder / f"page{n}.png"), full_page=True)
                    (folder / f"page{n}.html").write_text(page.content())
                except Exception:  # noqa: BLE001 - a closed page leaves what it can
                    pass
                (folder / f"page{n}.console.txt").write_text("\n".join(consoles.get(page, [])))
            print(f"browser artefacts in {folder}")
        browser.close()
        connections.close_all()
    connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def wait_until(
    page: Any, expression: str, *, arg: Any = None, timeout: float | None = None, **_: Any
) -> Any:
    """Wait until the JavaScript ``expression`` is truthy in ``page`` and return its value
    (what ``page.wait_for_function`` does, without eval: see ``browser_page``)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
    while True:
        value = page.evaluate(expression, arg) if arg is not None else page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise PlaywrightTimeout(f"Timeout waiting for {expression!r}")
        page.wait_for_timeout(50)


def sign_in(context: Any, live_server_url: str, user: Any) -> None:
    """Give the browser context ``user``'s session (no password form needed)."""
    client = Client()
    client.force_login(user)
    host = live_server_url.split("//")[1].split(":")[0]
    context.clear_cookies()
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "domain": host,
                "path": "/",
            }
        ]
    )


AXE = Path(__file__).resolve().parents[1] / "static" / "vendor" / "axe-core" / "axe.min.js"


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``impacts`` on the page as it is now, one line each (rule,
    impact, how many elements, the first element's selector). axe is evaluated through the
    DevTools protocol, outside the page's CSP (a script tag would be refused by
    script-src 'self' only if served from elsewhere; evaluating needs no tag at all)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" "))}));
        }"""
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}): {len(v['nodes'])}× e.g. {v['nodes'][0]}"
        for v in found
        if v["impact"] in impacts
    ]


def browser_skip_reason() -> str:
    """Why the browser tests skip here, or "" when they run (the ``needs_browser`` marks'
    reasons, for the run's header)."""
    return next((m.kwargs["reason"] for m in needs_browser if m.args[0]), "")
