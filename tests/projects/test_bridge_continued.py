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


def _change_with_enhancements(org, project, release):  # type: ignore[no-untyped-def]
    """A change two enhancements deliver: one done (8 h estimated), one open (2 h), with
    time logged on both; the release deploys it; it caused an incident."""
    from itsm.services import changes as cs
    from projects.capacity import time_log

    change = cs.change_create(actor=org.developer, title="New layout", services=[org.service])
    done = ps.work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="Layout v2"
    )
    open_ = ps.work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="Print view"
    )
    for item, estimate in ((done, 8), (open_, 2)):
        ps.enhancement_link_change(item=item, actor=org.developer, change=change)
        WorkItem.objects.filter(pk=item.pk).update(estimate_hours=estimate, target_release=release)
    WorkItem.objects.filter(pk=done.pk).update(status="fixed", fixed_in_release=release)
    WorkItem.objects.filter(pk=open_.pk).update(assignee=org.developer)
    open_.refresh_from_db()
    done.refresh_from_db()
    WorkItem.objects.filter(pk=done.pk).update(assignee=org.developer)
    done.refresh_from_db()
    time_log(actor=org.developer, target=done, hours="6.5")
    time_log(actor=org.developer, target=done, hours="1")
    time_log(actor=org.developer, target=open_, hours="0.5")
    type(release).objects.filter(pk=release.pk).update(change=change)
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Layout broken")
    cs.change_link_incident(change=change, actor=org.change_manager, incident=inc)
    return change, done, open_, inc


def test_issue11_change_api_exposes_enhancements_releases_and_caused_incidents(
    org, project, release
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #1: the change resource says what its enhancements deliver (state, target
    release, estimate vs logged, share done), the releases that deploy it and the
    incidents it caused; the incident resource names its cause (not to its requester)."""
    change, done, open_, inc = _change_with_enhancements(org, project, release)
    api = api_as(org.change_manager)
    body = api.get(f"/api/v1/changes/{change.key}/").json()
    rows = {r["key"]: r for r in body["enhancements"]}
    assert rows[done.key] == {
        "key": done.key,
        "title": "Layout v2",
        "status": "fixed",
        "target_release": str(release),
        "estimate_hours": "8.0",
        "logged_hours": "7.50",
    }
    assert rows[open_.key]["status"] == "open" and rows[open_.key]["logged_hours"] == "0.50"
    assert body["delivery"]["done_percent"] == 80 and body["delivery"]["basis"] == "estimate"
    assert body["delivery"]["logged_hours"] == "8.00"
    assert [r["id"] for r in body["releases"]] == [release.pk]
    assert [i["key"] for i in body["caused_incidents"]] == [inc.key]
    staff_view = api_as(org.agent).get(f"/api/v1/incidents/{inc.key}/").json()
    assert staff_view["caused_by"]["key"] == change.key
    assert api_as(org.requester).get(f"/api/v1/incidents/{inc.key}/").json()["caused_by"] is None
    mine = api_as(org.requester).get("/api/v1/incidents/").json()["results"]
    assert [r["caused_by"] for r in mine] == [None]


def test_issue11_change_share_done_by_count_without_estimates(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #1: with no estimate the share done is done items over items."""
    change, done, open_, _ = _change_with_enhancements(org, project, release)
    WorkItem.objects.filter(pk__in=[done.pk, open_.pk]).update(estimate_hours=None)
    body = api_as(org.change_manager).get(f"/api/v1/changes/{change.key}/").json()
    assert body["delivery"]["done_percent"] == 50 and body["delivery"]["basis"] == "count"


def test_issue11_change_page_shows_what_enhancements_deliver(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #1: the change page shows each enhancement's state, target release,
    estimate vs logged time, and the share done."""
    from django.test import Client

    change, done, open_, _ = _change_with_enhancements(org, project, release)
    c = Client()
    c.force_login(org.change_manager)
    html = c.get(change.get_absolute_url()).content.decode()
    assert 'id="change-enhancements"' in html
    assert done.key in html and open_.key in html and str(release) in html
    assert "7.50 h" in html and "8.0 h" in html and "80% done" in html


def test_issue11_change_list_queries_do_not_grow(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #1: the change list's queries do not grow with its rows (enhancements,
    logged time, releases and caused incidents are prefetched)."""
    from projects.models import Release

    api = api_as(org.change_manager)
    _change_with_enhancements(org, project, release)
    _queries(api, "/api/v1/changes/")  # warm caches (roles, content types)
    few, body = _queries(api, "/api/v1/changes/")
    assert len(body["results"]) == 1
    for n in range(3):
        other = Release.objects.create(project=project, version=f"3.{n}")
        _change_with_enhancements(org, project, other)
    many, body = _queries(api, "/api/v1/changes/")
    assert len(body["results"]) == 4 and all(r["enhancements"] for r in body["results"])
    assert many == few


def test_issue11_hypercare_incident_routed_to_the_release_team(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #3: an incident raised in a release's hypercare stays with the service desk
    and also appears in the release team's 3rd-line queue, marked hypercare; that team's
    members may work it; other teams may not; a requester is not told the routing."""
    from django.test import Client
    from django.utils import timezone

    from itsm import selectors as itsm_selectors
    from itsm.permissions import can_work_incident
    from projects.models import HypercareRoute, Release

    before = itsm.incident_create(actor=org.requester, service=org.service, title="Earlier")
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax wrong")
    [route] = HypercareRoute.objects.filter(incident=inc)
    assert route.team == org.dev and route.release == release
    inc.refresh_from_db()
    assert inc.team == org.desk and inc.tier == 1  # still the desk's
    assert inc in itsm_selectors.incident_queue(org.agent, "unassigned")
    dev_queue = itsm_selectors.incident_queue(org.developer, f"team-{org.dev.pk}")
    assert list(dev_queue) == [inc]  # not the incident raised before go-live
    assert can_work_incident(org.developer, inc)
    assert not can_work_incident(org.developer, before)
    assert not can_work_incident(org.support2, inc)
    c = Client()
    c.force_login(org.developer)
    html = c.get("/desk/", {"queue": f"team-{org.dev.pk}"}).content.decode()
    assert inc.key in html and 'class="badge hypercare"' in html
    page = c.get(inc.get_absolute_url()).content.decode()
    assert 'id="hypercare"' in page and f"queue=team-{org.dev.pk}" in page
    c.force_login(org.requester)
    assert 'id="hypercare"' not in c.get(inc.get_absolute_url()).content.decode()
    staff = api_as(org.developer).get(f"/api/v1/incidents/{inc.key}/").json()
    assert staff["hypercare"] == [
        {
            "release": str(release),
            "release_id": release.pk,
            "team": org.dev.name,
            "team_id": org.dev.pk,
        }
    ]
    assert api_as(org.requester).get(f"/api/v1/incidents/{inc.key}/").json()["hypercare"] == []
    # The developer works it through the same services as the desk: takes it to 3rd line.
    take = {"reason": "Ours: the release broke it.", "team": org.dev.pk, "tier": 3}
    res = api_as(org.support2).post(
        f"/api/v1/incidents/{inc.key}/transitions/escalate/", take, format="json"
    )
    assert res.status_code == 403
    res = api_as(org.developer).post(
        f"/api/v1/incidents/{inc.key}/transitions/escalate/", take, format="json"
    )
    assert res.status_code == 200, res.content
    assert res.json()["team"]["id"] == org.dev.pk and res.json()["tier"] == 3


def test_issue11_change_list_queries_do_not_grow_with_scheduled_changes(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 #1: scheduled changes' conflicts and freeze windows are computed for the
    whole page at once (they cost two queries per row), with the same answers as the
    detail."""
    from datetime import timedelta

    from django.utils import timezone

    from itsm.models import Change, FreezeWindow
    from itsm.services import changes as cs

    start = timezone.now() + timedelta(days=3)
    FreezeWindow.objects.create(
        name="Year end", start=start + timedelta(hours=1), end=start + timedelta(days=1)
    )

    def scheduled(offset_hours):  # type: ignore[no-untyped-def]
        s = start + timedelta(hours=offset_hours)
        c = cs.change_create(
            actor=org.developer,
            title="Window",
            services=[org.service],
            planned_start=s,
            planned_end=s + timedelta(hours=2),
        )
        Change.objects.filter(pk=c.pk).update(status="scheduled")
        return c

    api = api_as(org.change_manager)
    scheduled(0)
    _queries(api, "/api/v1/changes/")  # warm caches (roles, content types)
    few, _ = _queries(api, "/api/v1/changes/")
    for hours in (1, 30, 31):
        scheduled(hours)
    many, body = _queries(api, "/api/v1/changes/")
    assert len(body["results"]) == 4 and many == few
    for row in body["results"]:
        detail = api.get(f"/api/v1/changes/{row['key']}/").json()
        assert row["conflicts"] == detail["conflicts"]
        assert row["freeze_windows"] == detail["freeze_windows"]
    assert any(row["conflicts"] for row in body["results"])
    assert any(row["freeze_windows"] for row in body["results"])
    assert not all(row["freeze_windows"] for row in body["results"])
