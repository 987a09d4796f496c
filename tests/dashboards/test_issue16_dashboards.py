"""Issue 16: the dashboards. The figures from a small known data set (exact numbers), the
filters, who may open each dashboard and its CSV, the page (a canvas and the JSON per
chart, a table view, the list links), and the queries each dashboard runs."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import matrix
from core.dashboards import Filters, period_buckets
from core.roles import Role
from dashboards.figures import DASHBOARDS, FIGURES
from dashboards.services import facts_rebuild_days
from itsm import services
from itsm.models import Change, Incident
from itsm.services import changes as cs
from knowledge import services as ks
from knowledge.models import ArticleUse
from projects.models import Project, Release, TimeEntry
from sla.models import SlaClock
from tests.factories import ServiceFactory, UserFactory

TODAY = date(2026, 3, 18)  # a Wednesday: the 30-day period is five ISO weeks, 16 Feb – 23 Mar
PLANS = {"implementation_plan": "Do it.", "backout_plan": "Undo it.", "test_plan": "Test it."}


def at(day: date, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def filters(service_id: int | None = None, team_id: int | None = None) -> Filters:
    start, end, buckets = period_buckets(30, TODAY)
    return Filters(30, start, end, buckets, service_id, team_id)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):  # type: ignore[no-untyped-def]
    """Figures are cached by filter: one test's must not answer another's. Keys of their
    own per test, not ``cache.clear()``: the suite's workers share one Redis database."""
    from core import dashboards

    monkeypatch.setattr(dashboards, "CACHE_PREFIX", f"dash-{uuid.uuid4().hex}")


@pytest.fixture
def world(org):  # type: ignore[no-untyped-def]
    """Six incidents with known times (A…F), their SLA clocks, a second service, two
    article uses, three changes, a release gone live and some support time."""
    other = ServiceFactory(name="Intranet", support_team=org.support)

    def make(service, created, responded=None, resolved=None, reopens=0, tier=1, cancel=False):  # type: ignore[no-untyped-def]
        inc = services.incident_create(actor=org.requester, service=service, title="Broken")
        if cancel:
            services.incident_cancel(incident=inc, actor=org.requester)
        Incident.objects.filter(pk=inc.pk).update(
            created_at=created,
            responded_at=responded,
            resolved_at=resolved,
            reopen_count=reopens,
            tier=tier,
        )
        SlaClock.objects.filter(object_id=inc.pk).update(started_at=at(date(2026, 1, 1)))
        return Incident.objects.get(pk=inc.pk)

    a_t, b_t = at(date(2026, 2, 17)), at(date(2026, 2, 24))
    a = make(org.service, a_t, a_t + timedelta(hours=1), a_t + timedelta(hours=10), reopens=1)
    b = make(org.service, b_t, b_t + timedelta(hours=2), at(date(2026, 3, 3)), tier=2)
    c_t = at(date(2026, 3, 3))
    make(org.service, c_t, c_t + timedelta(hours=3), tier=3)
    make(org.service, at(date(2026, 3, 10)), cancel=True)
    make(org.service, at(date(2026, 1, 1)))  # E: open since before the period
    make(other, at(date(2026, 3, 11)))  # F
    # SLA: A's response met and resolution breached; B's both met
    for inc, resolution_breached in ((a, True), (b, False)):
        clocks = SlaClock.objects.filter(object_id=inc.pk)
        clocks.filter(target="response").update(
            started_at=inc.created_at, stopped_at=inc.responded_at, breached=False, state="met"
        )
        clocks.filter(target="resolution").update(
            started_at=inc.created_at,
            stopped_at=inc.resolved_at,
            breached=resolution_breached,
            state="breached" if resolution_breached else "met",
        )
    # knowledge: one deflection in week 2, one link in week 4
    article = ks.article_create(actor=org.agent, title="Tax codes", body="…", services=[other])
    for kind, day in ((ArticleUse.Kind.DEFLECTED, 25), (ArticleUse.Kind.LINKED, 38)):
        use = ArticleUse.objects.create(article=article, user=org.requester, kind=kind)
        ArticleUse.objects.filter(pk=use.pk).update(
            created_at=at(date(2026, 2, 1)) + timedelta(days=day - 1)
        )
    # changes: two implemented in week 3 (one successful, one failed), one emergency raised
    for title, kind, outcome in (
        ("Patch", "normal", "successful"),
        ("Upgrade", "normal", "failed"),
        ("Hotfix", "emergency", ""),
    ):
        change = cs.change_create(
            actor=org.developer, title=title, services=[org.service], type=kind, **PLANS
        )
        Change.objects.filter(pk=change.pk).update(
            status="closed" if outcome else "submitted",
            outcome=outcome,
            created_at=at(date(2026, 3, 4)),
            actual_end=at(date(2026, 3, 5)) if outcome else None,
        )
    # a release of the Payroll project gone live on 2 March: B and A before, C and D after
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    release = Release.objects.create(project=project, version="1.0")
    Release.objects.filter(pk=release.pk).update(went_live_at=at(date(2026, 3, 2), 0))
    # support time of the dev team: 3.5 h + 2 h in the period, 4 h before it
    ct = ContentType.objects.get_for_model(Incident)
    for day, hours in (
        (date(2026, 3, 3), "3.5"),
        (date(2026, 3, 10), "2"),
        (date(2026, 1, 5), "4"),
    ):
        TimeEntry.objects.create(
            user=org.developer,
            date=day,
            hours=Decimal(hours),
            content_type=ct,
            object_id=a.pk,
            is_support=True,
            team=org.dev,
        )
    # the figures read the daily roll-ups: computed as the collection would (issue 16)
    facts_rebuild_days(date(2025, 12, 1), date(2026, 3, 31))
    return {"other": other, "priority": a.priority, "release": release}


def series(figure):  # type: ignore[no-untyped-def]
    return {s.label: s.values for s in figure.series}


def test_buckets_of_a_period() -> None:
    start, end, buckets = period_buckets(30, TODAY)
    assert [b.label for b in buckets] == ["16 Feb", "23 Feb", "02 Mar", "09 Mar", "16 Mar"]
    assert (start, end) == (at(date(2026, 2, 16), 0), at(date(2026, 3, 23), 0))
    _, _, months = period_buckets(365, TODAY)
    assert [b.label for b in months][:2] == ["Mar 2025", "Apr 2025"]
    assert len(months) == 13


def test_the_figures_from_a_known_data_set(world) -> None:  # type: ignore[no-untyped-def]
    f, p = filters(), f"P{world['priority']}"
    backlog = series(FIGURES["backlog_priority"](f))
    assert backlog[p] == [1, 2, 2, 3, 3]  # E throughout, B over 2 Mar, C from 3 Mar, F
    assert sum(sum(v) for k, v in backlog.items() if k != p) == 0
    tiers = series(FIGURES["backlog_tier"](f))
    assert list(tiers.values()) == [[1, 1, 1, 2, 2], [0, 1, 0, 0, 0], [0, 0, 1, 1, 1]]

    times = FIGURES["times"](f)
    row = dict(zip(times.labels, [v for _, _, v in times.rows], strict=True))[p]
    # mean and p90 hours: respond 1/2/3, resolve 10/168; the p90 read off the roll-up's
    # bands, never above the longest (percentile_cont over the rows said 2.8 and 152.2)
    assert row == [2.0, 3.0, 89.0, 168.0]

    assert series(FIGURES["reopen_rate"](f))["Reopened"] == [100.0, 0.0, None, None, None]

    sla = series(FIGURES["sla_trend"](f))
    assert sla["Response met"] == [100.0, 100.0, None, None, None]
    assert sla["Resolution met"] == [0.0, 100.0, None, None, None]

    top = FIGURES["top_services"](f)
    assert (top.labels, top.series[0].values) == (["Payroll", "Intranet"], [4, 1])

    kb = series(FIGURES["deflections"](f))
    assert kb["Solved, no incident raised"] == [0, 1, 0, 0, 0]
    assert kb["Linked to an incident"] == [0, 0, 0, 1, 0]

    changes = series(FIGURES["change_outcomes"](f))
    assert changes["Successful"] == [None, None, 50.0, None, None]
    assert changes["Emergency"] == [None, None, 33.3, None, None]

    rel = FIGURES["release_incidents"](f)
    assert rel.labels == ["PAY 1.0"]
    assert series(rel) == {"14 days before": [2], "14 days after": [2]}
    assert rel.links == [f"/releases/{world['release'].pk}/"]

    load = FIGURES["third_line_load"](f)
    assert load.labels == ["Payroll Dev"]
    # 5.5 h logged; 20 % of a 40 h week over the period's five weeks reserved
    assert series(load) == {"Support hours logged": [5.5], "Hours reserved": [40.0]}


def test_the_service_and_team_filters(world, org) -> None:  # type: ignore[no-untyped-def]
    other = filters(service_id=world["other"].pk)
    top = FIGURES["top_services"](other)
    assert (top.labels, top.series[0].values) == (["Intranet"], [1])
    assert series(FIGURES["backlog_priority"](other))[f"P{world['priority']}"] == [0, 0, 0, 1, 1]
    assert series(FIGURES["deflections"](other))["Solved, no incident raised"] == [0, 1, 0, 0, 0]
    assert series(FIGURES["change_outcomes"](other))["Successful"] == [None] * 5
    assert FIGURES["release_incidents"](other).labels == []
    by_team = filters(team_id=org.other_desk.pk)
    assert FIGURES["top_services"](by_team).labels == []  # no incident is in that team's queue
    assert FIGURES["third_line_load"](by_team).labels == []
    desk = filters(team_id=org.desk.pk)
    assert FIGURES["top_services"](desk).series[0].values == [4, 1]


def test_a_figure_is_computed_once_a_minute_per_filter(world) -> None:  # type: ignore[no-untyped-def]
    from core.dashboards import cached_figure

    with CaptureQueriesContext(connection) as ctx:
        first = cached_figure("top_services", filters(), FIGURES["top_services"])
        again = cached_figure("top_services", filters(), FIGURES["top_services"])
        other = cached_figure("top_services", filters(world["other"].pk), FIGURES["top_services"])
    # computed twice (two queries each: the roll-up's sums, the services' names), read once
    assert len(ctx) == 4 and first.labels == again.labels != other.labels


def test_a_percentile_is_read_off_the_duration_bands() -> None:
    from core.dashboards import DURATION_BANDS, DURATION_BOUNDS, histogram_percentile

    bands = [0] * DURATION_BANDS
    bands[DURATION_BOUNDS.index(3600) + 1] = 10  # ten incidents in [1 h, 1.5 h)
    assert histogram_percentile(bands, 0.9) == pytest.approx(3600 + 1800 * 0.9)
    assert histogram_percentile(bands, 0.9, largest=4000.0) == 4000.0
    bands[0] = 90  # ninety under five minutes: the 90th is the 90th of them
    assert histogram_percentile(bands, 0.9) == pytest.approx(300.0)
    bands[-1] = 1000  # most beyond the last bound: its lower bound, the open band
    assert histogram_percentile(bands, 0.9) == float(DURATION_BOUNDS[-1])
    assert histogram_percentile([0] * DURATION_BANDS, 0.9) is None


WHO = {
    "desk": {Role.SERVICE_DESK_AGENT, Role.SECOND_LINE, Role.DEVELOPER, Role.INCIDENT_MANAGER},
    "incidents": {Role.INCIDENT_MANAGER, Role.PROBLEM_MANAGER},
    "changes": {Role.CHANGE_MANAGER, Role.RELEASE_MANAGER},
    "projects": {Role.PROJECT_MANAGER},
}


@pytest.mark.parametrize("key", list(DASHBOARDS))
@pytest.mark.parametrize("role", list(Role))
def test_who_may_open_each_dashboard_and_its_csv(db, key, role) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(username=f"u_{role.name.lower()}", roles=[role])
    client = Client()
    client.force_login(user)
    allowed = role in WHO[key] or role == Role.ADMINISTRATOR
    page = client.get(f"/dashboards/{key}/")
    csv = client.get(f"/dashboards/{key}/?export=csv&figure={DASHBOARDS[key].figures[0]}")
    assert (page.status_code, csv.status_code) == ((200, 200) if allowed else (403, 403))
    assert (
        matrix.roles_for("dashboard", DASHBOARDS[key].view_action) - {Role.ADMINISTRATOR}
        == WHO[key]
    )


def test_signed_out_is_sent_to_sign_in(db) -> None:  # type: ignore[no-untyped-def]
    res = Client().get("/dashboards/desk/")
    assert res.status_code == 302 and "/accounts/login/" in res["Location"]


def test_the_page_draws_a_canvas_per_chart_from_json_with_table_list_and_csv(world, org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.incident_manager)
    with time_machine.travel(at(TODAY, 12), tick=False):
        res = client.get(f"/dashboards/incidents/?period=30&service={org.service.pk}")
    assert res.status_code == 200
    html = res.content.decode()
    dash = DASHBOARDS["incidents"]
    assert html.count("<canvas ") == len(dash.figures)
    assert "<script>" not in html.replace("<script src=", "")  # no inline script (CSP)
    for key in dash.figures:
        assert f'data-chart="data-{key}"' in html
        assert f'id="data-{key}" type="application/json"' in html
        assert f'data-testid="table-{key}"' in html
        assert f"export=csv&amp;figure={key}" in html
    top = res.context["figures"][dash.figures.index("top_services")]
    assert top["data"]["labels"] == ["Payroll"] and top["data"]["datasets"][0]["data"] == [4]
    assert f"service={org.service.pk}" in top["figure"].link  # the desk with the same filters
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/charts.js" in html
    assert f'<option value="{org.service.pk}" selected>' in html  # the URL holds the filter


def test_the_csv_is_the_charts_numbers(world, org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.incident_manager)
    with time_machine.travel(at(TODAY, 12), tick=False):
        res = client.get("/dashboards/incidents/?period=30&export=csv&figure=top_services")
    assert res.status_code == 200 and res["Content-Type"] == "text/csv"
    assert res.content.decode().splitlines() == ["Service,Incidents", "Payroll,4", "Intranet,1"]


@pytest.mark.parametrize(
    "query",
    ["period=7", "service=999999", "team=abc", "export=csv&figure=nope", "export=csv"],
)
def test_bad_filters_are_a_400(org, query) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.admin)
    assert client.get(f"/dashboards/desk/?{query}").status_code == 400


def test_an_unknown_dashboard_is_a_404(org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.admin)
    assert client.get("/dashboards/nope/").status_code == 404


# The queries of each dashboard, cache cold: the session, the user, the roles, then one per
# figure (four for the 3rd-line load, one for both backlogs; the top services' names are a
# second query when there are any, and the default period here has none), the
# unread notices of the top bar, the filter form's services and teams, and when the
# roll-ups were collected; the same whatever the number of incidents. Warm (the figures
# cached), seven.
QUERIES = {"desk": 12, "incidents": 14, "changes": 10, "projects": 12}
WARM = 7


@pytest.mark.parametrize("key", list(DASHBOARDS))
def test_queries_per_dashboard_are_pinned(world, org, key) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.admin)
    with CaptureQueriesContext(connection) as cold:
        assert client.get(f"/dashboards/{key}/").status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert client.get(f"/dashboards/{key}/").status_code == 200
    assert len(cold) == QUERIES[key], [q["sql"][:120] for q in cold.captured_queries]
    assert len(warm) == WARM


def test_each_role_home_links_its_dashboard(org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org.incident_manager)
    html = client.get("/home/incidents/").content.decode()
    assert 'href="/dashboards/incidents/" data-testid="dashboard-link"' in html
    client.force_login(org.agent)
    html = client.get("/desk/").content.decode()
    assert 'href="/dashboards/desk/" data-testid="dashboard-link"' in html
    client.force_login(org.requester)
    assert client.get("/dashboards/").status_code == 403


def test_the_collect_task_computes_the_default_figures_ahead(world, org) -> None:  # type: ignore[no-untyped-def]
    from dashboards.tasks import dashboards_collect

    assert dashboards_collect()["skipped"] == 0
    client = Client()
    client.force_login(org.admin)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/dashboards/incidents/").status_code == 200
    assert len(ctx) == WARM  # every figure from the cache


def test_both_backlogs_are_one_query(world) -> None:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        FIGURES["backlog_priority"](filters())
        FIGURES["backlog_tier"](filters())
    assert len(ctx) == 1


def test_the_period_select_says_the_period_shown_when_the_url_names_none(org) -> None:  # type: ignore[no-untyped-def]
    """A bound form shows what it was given: without ?period= the select showed "Last 30
    days" over figures of the default 90."""
    client = Client()
    client.force_login(org.admin)
    html = client.get("/dashboards/desk/").content.decode()
    assert '<option value="90" selected>' in html
    assert '<option value="30" selected>' not in html


def test_a_chart_without_a_list_behind_it_shows_its_csv_link_alone(world, org) -> None:  # type: ignore[no-untyped-def]
    """The 3rd-line load of several teams has no one list behind it: its links line is the
    CSV link, not "· Export CSV"."""
    from core.models import Tier
    from tests.factories import TeamFactory

    TeamFactory(name="Portal Dev", tier=Tier.DEVELOPMENT)
    client = Client()
    client.force_login(org.admin)
    html = client.get("/dashboards/projects/").content.decode()
    line = html.split('data-testid="figure-third_line_load"')[1].split('<p class="small">')[1]
    assert line.startswith('<a href="?period=90&amp;export=csv&amp;figure=third_line_load')
    assert "· <a" not in line.split("</p>")[0]
