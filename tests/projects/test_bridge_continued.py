"""Issue 11, "Bridge, continued": what the change and incident APIs say of the
development side, the defect API's SLA summary, hypercare routing to the release's team,
and the go-live review of only the articles a release touches."""

from __future__ import annotations

import pytest

from core import events
from core.models import Service
from itsm import services as itsm
from knowledge import services as ks
from projects import services as ps
from projects.models import ReviewScope, WorkItem
from tests.conftest import api_as


def _article(org, title, body, services):  # type: ignore[no-untyped-def]
    a = ks.article_create(actor=org.agent, title=title, body=body, services=services)
    return ks.article_transition(article=a, actor=org.support2, name="publish")


def _ship(org, project, release, title="Totals"):  # type: ignore[no-untyped-def]
    """A defect fixed in ``release`` (done, so the release ships it)."""
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title=title)
    WorkItem.objects.filter(pk=item.pk).update(status="fixed", fixed_in_release=release)
    item.refresh_from_db()
    return item


@pytest.fixture
def other_service(org):  # type: ignore[no-untyped-def]
    return Service.objects.create(name="Pensions", support_team=org.support)


def test_issue11_go_live_flags_only_the_articles_the_release_touches(
    org, project, release, other_service
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #4: a go-live flags the articles filed under the services of the items it
    ships, or naming their keys; not every article of every service of the project."""
    project.services.add(other_service)
    item = _ship(org, project, release)
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax wrong")
    ps.defect_link_incident(item=item, actor=org.developer, incident=inc)
    on_service = _article(org, "Payslip FAQ", "How to read your payslip.", [org.service])
    untouched = _article(org, "Pension FAQ", "Pensions.", [other_service])
    mentions = _article(org, "Known issue", f"Fixed by {item.key.lower()} soon.", [])
    near_miss = _article(org, "Other issue", f"See {item.key}0.", [other_service])
    events.publish(events.RELEASE_LIVE, release=release, actor=org.change_manager)
    flagged = {
        a.key for a in (on_service, untouched, mentions, near_miss) if _reload(a).needs_review
    }
    assert flagged == {on_service.key, mentions.key}


def test_issue11_go_live_wider_rule_when_the_project_chooses_it(
    org, project, release, other_service
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #4: a project may choose the wider rule (every article of its services)."""
    project.services.add(other_service)
    project.review_scope = ReviewScope.ALL_SERVICES
    project.save()
    pension = _article(org, "Pension FAQ", "Pensions.", [other_service])
    elsewhere = _article(org, "Elsewhere", "Nothing.", [])
    events.publish(events.RELEASE_LIVE, release=release, actor=org.change_manager)
    assert _reload(pension).needs_review and not _reload(elsewhere).needs_review


def _reload(obj):  # type: ignore[no-untyped-def]
    obj.refresh_from_db()
    return obj


def _stable(sla):  # type: ignore[no-untyped-def]
    """An SLA summary without the seconds that tick between two requests."""
    return {
        **sla,
        "incidents": [
            {**i, "clocks": [(c["target"], c["due_at"], c["level"]) for c in i["clocks"]]}
            for i in sla["incidents"]
        ],
    }


def _queries(client, url):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
    assert res.status_code == 200, res.content
    return len(ctx.captured_queries), res.json()


def test_issue11_defect_api_exposes_its_incidents_sla(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #2: the defect resource (detail and list) carries its incidents' SLA: the
    earliest due, whether one breached, and each incident's clocks, as /sla/ does; the
    list's queries do not grow with its rows."""
    api = api_as(org.developer)

    def defect_with_incidents(n):  # type: ignore[no-untyped-def]
        item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="T")
        for _ in range(n):
            inc = itsm.incident_create(actor=org.requester, service=org.service, title="Down")
            ps.defect_link_incident(item=item, actor=org.developer, incident=inc)
        return item

    item = defect_with_incidents(2)
    detail = api.get(f"/api/v1/defects/{item.key}/").json()
    sla = api.get(f"/api/v1/defects/{item.key}/sla/").json()
    assert _stable(detail["sla"]) == _stable(sla)
    assert detail["sla"]["earliest_due"] is not None and len(detail["sla"]["incidents"]) == 2
    assert {c["target"] for c in detail["sla"]["incidents"][0]["clocks"]} == {
        "response",
        "resolution",
    }
    few, body = _queries(api, "/api/v1/defects/")
    [row] = body["results"]
    assert _stable(row["sla"]) == _stable(sla)
    for _ in range(3):
        defect_with_incidents(2)
    many, body = _queries(api, "/api/v1/defects/")
    assert len(body["results"]) == 4
    assert many == few
