"""Issue 13: every list and list-like page of the knowledge base costs a fixed number of
queries, whatever the number of rows it shows: measured with one row of each kind, then
with twelve, the count is the same and the twelve are on the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.models import Service
from knowledge import services as ks
from projects.models import Project, Release, ReleaseStatus
from tests.pins import assert_pinned, client_for, count


@dataclass
class World:
    org: Any
    project: Any
    hub: Any  # the article whose history gathers versions


@pytest.fixture
def world(org) -> World:  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    hub = ks.article_create(actor=org.agent, title="Hub article", body="v1", services=[org.service])
    return World(org, project, hub)


def _add(w: World, i: int) -> None:
    """One more row of every list: a published public article (own service and tags), one
    waiting for review, one flagged for review, a release with notes, a hub version."""
    org = w.org
    service = Service.objects.create(name=f"Service {i}")
    published = ks.article_create(
        actor=org.agent,
        title=f"Published printer {i}",
        body=f"Printer help number {i}.",
        audience="public",
        services=[org.service, service],
        tags=[f"tag{i}", "printers"],
    )
    ks.article_transition(article=published, actor=org.support2, name="publish")
    waiting = ks.article_create(actor=org.agent, title=f"Waiting {i}", body="draft")
    ks.article_transition(article=waiting, actor=org.agent, name="submit_review")
    release = Release.objects.create(
        project=w.project, version=f"4.{i}", status=ReleaseStatus.DEVELOPMENT
    )
    flagged = ks.article_create(
        actor=org.support2, title=f"Flagged {i}", body="old", services=[org.service]
    )
    ks.article_flag(article=flagged, reason=f"Release 4.{i} went live", release=release)
    ks.article_update(article=w.hub, actor=org.agent, body=f"v{i + 2}", note=f"Edit {i}")


def _pin(w: World, viewer: Any, url: str, shown: Any, rows: int = 12) -> tuple[int, int]:
    return assert_pinned(client_for(viewer, url), url, lambda i: _add(w, i), shown, rows)


CASES = [
    ("/api/v1/articles/?status=published", "agent", count('"title":"Published'), 12),
    ("/api/v1/articles/", "requester", count('"title":"Published printer'), 12),
    ("/api/v1/articles/?q=printer", "requester", count('"title":"Published printer'), 12),
    ("/api/v1/articles/?needs_review=true", "agent", count('"title":"Flagged'), 12),
    ("/api/v1/articles/hub/versions/", "agent", count('"note":"Edit'), 12),
    ("/api/v1/articles/hub/history/", "agent", count('"action":"'), 12),
    ("/kb/", "agent", count("Published printer"), 12),
    ("/kb/", "requester", count("Published printer"), 12),
    ("/kb/?q=printer", "agent", count("Published printer"), 12),
    ("/kb/?status=any", "agent", count("Flagged "), 12),
    ("/kb/suggest/?title=printer help", "requester", count("Published printer"), 3),
    ("/kb/review/", "agent", lambda b: min(b.count("Flagged "), b.count("Waiting ")), 12),
    ("/kb/review/?by=service", "agent", count("Flagged "), 12),
    ("/kb/releases/", "agent", count(" 4."), 10),  # ten releases a page
    ("/kb/hub/", "agent", count("Edit "), 12),
    ("/kb/hub/history/", "agent", count("data-version="), 12),
]


@pytest.mark.parametrize(
    ("url", "role", "shown", "rows"), CASES, ids=[f"{u} {r}" for u, r, _, _ in CASES]
)
def test_knowledge_lists_cost_the_same_whatever_the_rows(world, url, role, shown, rows) -> None:  # type: ignore[no-untyped-def]
    url = url.replace("hub", world.hub.key)
    _pin(world, getattr(world.org, role), url, shown, rows)
