"""Issue 16, flow 7: every page each role reaches, in Chromium, opens without a server
error, a broken link or a console error.

For each demo role the crawler signs in, starts at ``/`` (the role's home) and walks the
same-origin ``<a href>`` links of the pages it reaches, breadth first. Only GETs of links
are made (no form is sent, no button pressed), and signing out and the admin's pages beyond
its index are left alone. To stay bounded (about 90 s for every role) links are grouped by
the route Django resolves them to: the first ``VISITS_PER_ROUTE`` of a route are opened in
the browser (status, console, page errors, failed styles/scripts/fragments, and their
links followed); of the others, ``CHECKS_PER_PATTERN`` per route and set of query
parameter names are fetched for their status only (a link that 404s or 500s for this role
is still found), the rest skipped.

Accessibility: axe-core (vendored in static/vendor/axe-core/) runs on each role's main
pages, its home and the pages of its top bar, as the crawler opens them.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urlsplit

import pytest
from django.urls import Resolver404, resolve

from tests.browser import axe_violations, needs_browser
from tests.e2e.conftest import DEMO_ROLES

pytestmark = needs_browser

VISITS_PER_ROUTE = 1
CHECKS_PER_PATTERN = 1
MAX_PAGES = 200  # per role, a guard: the demo's pages are far fewer
SKIP_PREFIXES = ("/accounts/logout", "/static/", "/media/")


def pattern_of(path_and_query: str) -> tuple[str, str]:
    """``/incidents/INC-1012/?tab=work`` → ``("incidents/<str:ref>/", "incidents/<str:ref>/?tab")``:
    the route, and the route with the names of the query's parameters."""
    parts = urlsplit(path_and_query)
    try:
        route = resolve(parts.path).route
    except Resolver404:
        route = parts.path
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return route, (f"{route}?{'&'.join(keys)}" if keys else route)


def skipped(path: str) -> bool:
    if path.startswith(SKIP_PREFIXES):
        return True
    # the admin's index is Tandem's page; what lies beyond it is Django's
    return path.startswith("/admin/") and urlsplit(path).path != "/admin/"


def crawl(context: Any, base: str) -> tuple[list[str], list[str], int]:
    """Walk from ``/``; return the problems found, the accessibility violations on the
    role's main pages and the number of pages opened."""
    from playwright.sync_api import Error as PlaywrightError

    page = context.new_page()
    console: list[str] = []  # with the address of what failed, which the fixture's lines lack
    page.on(
        "console",
        lambda m: console.append(f"{m.type}: {m.text} [{m.location.get('url', '')}]"),
    )
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    queue: deque[str] = deque(["/"])
    found_on: dict[str, str] = {"/": "(start)"}
    visits: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    problems: list[str] = []
    violations: list[str] = []
    main: set[str] = set()  # the role's home and what its top bar links to
    opened = 0
    current = ["/"]

    # what a page loads itself (styles, scripts, HTMX fragments) answering an error
    def failed_load(response: Any) -> None:
        if response.status < 400 or response.url == base + current[0]:
            return  # the page itself: its status is checked where it is opened
        if response.status == 405 and current[0].startswith("/api/"):
            return
        kind = response.request.resource_type
        problems.append(f"{response.status} {kind} {response.url} (loaded by {current[0]})")

    page.on("response", failed_load)

    def bad(status: int, path: str, how: str) -> None:
        if status == 405 and path.startswith("/api/"):
            return  # the browsable API links its POST-only actions: they exist
        if status >= 500:
            problems.append(f"{status} {path} ({how}, linked from {found_on[path]})")
        elif status >= 400:
            problems.append(f"broken link {path} → {status} (linked from {found_on[path]})")

    while queue and opened < MAX_PAGES:
        path = queue.popleft()
        route, pattern = pattern_of(path)
        if visits[route] >= VISITS_PER_ROUTE and path not in main:
            if checks[pattern] < CHECKS_PER_PATTERN:
                checks[pattern] += 1
                bad(context.request.get(base + path).status, path, "fetched")
            continue
        visits[route] += 1
        opened += 1
        current[0] = path
        seen = len(console)
        try:
            response = page.goto(base + path, wait_until="load")
        except PlaywrightError as e:
            if "Download is starting" in str(e):  # a CSV or an attachment: its status only
                bad(context.request.get(base + path).status, path, "download")
            else:
                problems.append(f"{path}: {e}")
            continue
        if response is not None:
            bad(response.status, path, "opened")
        errors = [
            line
            for line in console[seen:]
            if line.startswith(("error:", "pageerror:"))
            # Chromium's own request on a page without an icon link (a JSON answer, the
            # browsable API): not a link Tandem rendered; its pages link a data: icon
            and not line.endswith("/favicon.ico]")
        ]
        if path.startswith("/api/"):  # the browsable API's POST-only action, as above
            errors = [line for line in errors if "status of 405" not in line]
        problems += [f"console on {path}: {line}" for line in errors]
        here = urlsplit(page.url)
        if f"{here.scheme}://{here.netloc}" != base:
            continue
        if opened == 1:  # the home "/" led to: it and its top bar are the main pages
            main.add(here.path)
            main.update(
                urlsplit(h).path
                for h in page.eval_on_selector_all("header a[href]", "els => els.map(e => e.href)")
                if h.startswith(base) and not urlsplit(h).path.startswith(("/api/", "/admin/"))
            )
        if path in main or opened == 1:
            violations += [f"{path}: {v}" for v in axe_violations(page)]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url, _ = urldefrag(href)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != base:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in found_on or skipped(target):
                continue
            found_on[target] = path
            queue.append(target)
    # what a page's late requests logged after the crawler moved on
    page.wait_for_timeout(300)
    problems += [f"console: {line}" for line in console if line.startswith("pageerror:")]
    return sorted(set(problems)), violations, opened


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_every_page_a_role_reaches_opens_cleanly(role, demo_site, browser_page, db) -> None:  # type: ignore[no-untyped-def]
    """Flow 7, and axe-core on the role's main pages (its home and the top bar's pages):
    no serious or critical accessibility violation."""
    started = time.monotonic()
    demo_site.sign_in(browser_page, role)
    problems, violations, opened = crawl(browser_page, demo_site.url)
    print(f"{role}: {opened} pages opened in {time.monotonic() - started:.1f}s")
    assert opened > 3, f"{role} reached only {opened} pages"
    assert not problems, f"{role}:\n" + "\n".join(problems)
    assert not violations, f"{role}, accessibility:\n" + "\n".join(violations)
