"""What the end-to-end flows 1–3 share (e2e1): one browser, a fresh context per person,
each signed in through the login page, and everything each page said kept so a flow can
assert the console stayed clean and no answer was a 500.

Imported by name from the flow modules (``tests/e2e/conftest.py`` belongs to e2e2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from projects.models import Project
from tests.browser import RESULTS

PASSWORD = "pw"  # tests.factories.UserFactory's


class People:
    """``people.open(user)`` gives a page in a new browser context that signed in as
    ``user`` through /accounts/login/ (its own cookies, as a person's own browser)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.pages: dict[str, Any] = {}
        self.console: dict[str, list[str]] = {}
        self.failures: list[str] = []  # answers of 500 and more, and failed requests
        self.expected_console: list[str] = []  # substrings of lines a flow provokes on purpose
        self.started = time.monotonic()

    def step(self, name: str) -> None:
        """Mark the flow's progress (printed, so a slow or failing step shows which)."""
        print(f"{time.monotonic() - self.started:6.1f}s  {name}")

    def open(self, user: Any) -> Any:
        name = user.username
        if name in self.pages:
            return self.pages[name]
        context = self.browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        lines = self.console.setdefault(name, [])
        page.on("console", lambda m: lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: lines.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: (
                self.failures.append(f"{name}: {r.status} {r.request.method} {r.url}")
                if r.status >= 500
                else None
            ),
        )
        page.set_default_timeout(10_000)
        page.goto(f"{self.base}/accounts/login/")
        page.fill("#id_username", name)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url, f"{name} could not sign in"
        self.pages[name] = page
        return page

    def go(self, user: Any, path: str) -> Any:
        page = self.open(user)
        page.goto(f"{self.base}{path}")
        return page

    def console_errors(self) -> list[str]:
        """Errors and warnings any person's console showed, less those expected."""
        return [
            f"{who}: {line}"
            for who, lines in self.console.items()
            for line in lines
            if line.split(":", 1)[0] in ("error", "warning", "pageerror")
            and not any(e in line for e in self.expected_console)
        ]

    def assert_clean(self) -> None:
        assert self.failures == [], self.failures
        assert self.console_errors() == [], self.console_errors()


@pytest.fixture
def people(request, browser_page, live_server) -> Iterator[People]:  # type: ignore[no-untyped-def]
    """Contexts per person on the browser of ``browser_page``; a failing test leaves each
    person's page (screenshot, HTML, console) under test-results/<test>/<username>.*."""
    crowd = People(browser_page.browser, live_server.url)
    yield crowd
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = RESULTS / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, page in crowd.pages.items():
            try:
                page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
                (folder / f"{name}.html").write_text(page.content())
            except Exception:  # noqa: BLE001 - a closed page leaves what it can
                pass
            (folder / f"{name}.console.txt").write_text("\n".join(crowd.console.get(name, [])))
        (folder / "failed-responses.txt").write_text("\n".join(crowd.failures))
        print(f"browser artefacts in {folder}")
    for page in crowd.pages.values():
        page.context.close()


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    """The project that builds the org's service (as tests/projects/conftest.py)."""
    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p
