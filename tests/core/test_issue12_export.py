"""Issue 12: every list exports as CSV of its current filter, streamed, with the list's own
visibility (core.export; pages ``?export=csv``, API ``…/export/``)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.export import safe_cell
from itsm import services
from itsm.models import CatalogItem, Incident
from itsm.services.changes import change_create
from itsm.services.problems import problem_create
from itsm.services.requests import request_submit
from projects.models import Project
from projects.services import work_item_create
from sla.models import SlaClock
from tests.conftest import api_as


def page_as(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def read_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content[:300]
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def keys(rows: list[dict[str, str]], column: str = "Key") -> list[str]:
    return sorted(r[column] for r in rows)


def raise_incident(org, title: str = "Payslip wrong", who=None, impact: str = "medium") -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=who or org.requester,
        service=org.service,
        title=title,
        impact=impact,
        urgency="medium",
    )


# --- the helper ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (-3, -3),
        (None, ""),
        (True, "yes"),
        (False, "no"),
    ],
)
def test_cells_a_spreadsheet_would_run_as_formulas_are_escaped(value, cell) -> None:  # type: ignore[no-untyped-def]
    assert safe_cell(value) == cell


def test_a_formula_typed_in_a_title_is_exported_as_text(org) -> None:  # type: ignore[no-untyped-def]
    raise_incident(org, title='=HYPERLINK("http://evil","click")')
    rows = read_csv(page_as(org.agent).get("/desk/?queue=all&export=csv"))
    assert rows[0]["Title"] == '\'=HYPERLINK("http://evil","click")'


# --- the desk queues -------------------------------------------------------------------------
def test_desk_export_holds_the_queues_filtered_rows_all_pages(org) -> None:  # type: ignore[no-untyped-def]
    high = [raise_incident(org, f"Down {i}", impact="high") for i in range(30)]  # > a page
    raise_incident(org, "Slow", impact="low")
    url = f"/desk/?queue=all&priority={high[0].priority}&export=csv"
    rows = read_csv(page_as(org.agent).get(url))
    assert keys(rows) == sorted(i.key for i in high)
    assert rows[0]["Requester e-mail"] == org.requester.email
    assert rows[0]["Priority"] == f"P{high[0].priority}"


def test_desk_export_follows_the_queue_and_the_sort(org) -> None:  # type: ignore[no-untyped-def]
    mine = raise_incident(org, "Mine")
    services.incident_take(incident=mine, actor=org.agent)
    raise_incident(org, "Nobody's")
    rows = read_csv(page_as(org.agent).get("/desk/?queue=mine&export=csv"))
    assert keys(rows) == [mine.key]
    rows = read_csv(page_as(org.agent).get("/desk/?queue=all&ordering=title&export=csv"))
    assert [r["Title"] for r in rows] == ["Mine", "Nobody's"]


def test_desk_shows_an_export_link_carrying_its_filters(org) -> None:  # type: ignore[no-untyped-def]
    raise_incident(org)
    html = page_as(org.agent).get("/desk/?queue=all&priority=3&page=1").content.decode()
    assert 'href="/desk/?queue=all&amp;priority=3&amp;export=csv"' in html


def test_a_live_queue_refresh_keeps_its_export_link_free_of_the_poll(org) -> None:  # type: ignore[no-untyped-def]
    raise_incident(org)
    html = page_as(org.agent).get("/desk/?queue=all&poll=stale").content.decode()
    assert 'href="/desk/?queue=all&amp;export=csv"' in html


def test_desk_export_queries_do_not_grow_with_rows(org) -> None:  # type: ignore[no-untyped-def]
    client = page_as(org.agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            read_csv(client.get("/desk/?queue=all&ordering=sla&export=csv"))
        return len(ctx.captured_queries)

    raise_incident(org, "One")
    few = queries()
    for i in range(20):
        raise_incident(org, f"More {i}", who=org.requester2)
    assert queries() == few


def test_internal_notes_never_appear_in_an_export(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="SECRET-NOTE vendor blames us", public=False
    )
    for response in (
        page_as(org.agent).get("/desk/?queue=all&export=csv"),
        page_as(org.requester).get("/portal/?show=all&export=csv"),
        api_as(org.agent).get("/api/v1/incidents/export/"),
    ):
        text = b"".join(response.streaming_content).decode()
        assert new_incident.key in text
        assert "SECRET-NOTE" not in text


# --- who sees what ---------------------------------------------------------------------------
def test_a_requester_exports_only_their_own_incidents(org) -> None:  # type: ignore[no-untyped-def]
    own = raise_incident(org, "Mine")
    raise_incident(org, "Theirs", who=org.requester2)
    assert keys(read_csv(page_as(org.requester).get("/portal/?show=all&export=csv"))) == [own.key]
    assert keys(read_csv(api_as(org.requester).get("/api/v1/incidents/export/"))) == [own.key]
    # the desk is not theirs: it sends them to their portal, as it does for the page
    assert page_as(org.requester).get("/desk/?queue=all&export=csv").status_code == 302


def test_a_requester_gets_no_problems_changes_or_breaches(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    problem_create(actor=org.problem_manager, title="Tax", service=org.service)
    change_create(actor=org.change_manager, title="Patch", services=[org.service])
    client, api = page_as(org.requester), api_as(org.requester)
    assert client.get("/problems/?export=csv").status_code == 404
    assert client.get("/changes/?export=csv").status_code == 404
    assert client.get("/sla/report/?export=csv").status_code == 403
    assert read_csv(api.get("/api/v1/problems/export/")) == []
    assert read_csv(api.get("/api/v1/changes/export/")) == []
    assert api.get("/api/v1/reports/sla/breaches/export/").status_code == 403


# --- the API ---------------------------------------------------------------------------------
def test_api_export_uses_the_lists_filters(org) -> None:  # type: ignore[no-untyped-def]
    high = raise_incident(org, "Down", impact="high")
    raise_incident(org, "Slow", impact="low")
    api = api_as(org.agent)
    rows = read_csv(api.get(f"/api/v1/incidents/export/?priority={high.priority}"))
    assert keys(rows) == [high.key]
    rows = read_csv(api.get("/api/v1/incidents/export/?q=slow"))
    assert [r["Title"] for r in rows] == ["Slow"]


def test_api_export_refuses_a_bad_filter_with_400(org) -> None:  # type: ignore[no-untyped-def]
    response = api_as(org.agent).get("/api/v1/incidents/export/?priority=9")
    assert response.status_code == 400
    assert "priority" in response.json()["fields"]


# --- the other lists -------------------------------------------------------------------------
def test_problems_export_filtered(org) -> None:  # type: ignore[no-untyped-def]
    tax = problem_create(actor=org.problem_manager, title="Tax code", service=org.service)
    problem_create(actor=org.problem_manager, title="Login loop", service=org.service)
    rows = read_csv(page_as(org.problem_manager).get("/problems/?q=tax&export=csv"))
    assert keys(rows) == [tax.key]
    assert rows[0]["Open incidents"] == "0"
    rows = read_csv(api_as(org.problem_manager).get("/api/v1/problems/export/?q=tax"))
    assert keys(rows) == [tax.key]


def test_changes_export_filtered(org) -> None:  # type: ignore[no-untyped-def]
    patch = change_create(actor=org.change_manager, title="Patch", services=[org.service])
    change_create(
        actor=org.change_manager, title="Upgrade", type="emergency", services=[org.service]
    )
    rows = read_csv(page_as(org.change_manager).get("/changes/?type=normal&export=csv"))
    assert keys(rows) == [patch.key]
    rows = read_csv(api_as(org.change_manager).get("/api/v1/changes/export/?type=normal"))
    assert keys(rows) == [patch.key]


@pytest.fixture
def item(org):  # type: ignore[no-untyped-def]
    return CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )


def test_requests_export_own_for_requesters_every_for_staff(org, item) -> None:  # type: ignore[no-untyped-def]
    own = request_submit(actor=org.requester, item=item, answers={})
    theirs = request_submit(actor=org.requester2, item=item, answers={})
    rows = read_csv(page_as(org.requester).get("/requests/?export=csv"))
    assert keys(rows) == [own.key]
    assert rows[0]["Item"] == "Mouse"
    assert keys(read_csv(api_as(org.requester).get("/api/v1/requests/export/"))) == [own.key]
    rows = read_csv(page_as(org.support2).get("/requests/?show=all&export=csv"))
    assert keys(rows) == sorted([own.key, theirs.key])


def test_backlog_and_work_item_api_export(org) -> None:  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    tax = work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")
    idea = work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="=cmd|' /C calc'!A0"
    )
    rows = read_csv(page_as(org.developer).get("/projects/PAY/backlog/?export=csv"))
    assert keys(rows) == sorted([tax.key, idea.key])
    assert {r["Title"] for r in rows} == {"Tax", "'=cmd|' /C calc'!A0"}
    rows = read_csv(api_as(org.developer).get("/api/v1/defects/export/?project=PAY"))
    assert keys(rows) == [tax.key]


def test_sla_breaches_export_every_breach_of_the_period(org) -> None:  # type: ignore[no-untyped-def]
    late = raise_incident(org, "Late", impact="high")
    raise_incident(org, "On time")
    SlaClock.objects.filter(object_id=late.pk, target="response").update(
        breached=True, breached_at=timezone.now()
    )
    today = timezone.localdate()
    period = f"from={today - timedelta(days=1)}&to={today}"
    rows = read_csv(page_as(org.incident_manager).get(f"/sla/report/?{period}&export=csv"))
    assert [(r["Ticket"], r["Target"]) for r in rows] == [(late.key, "Response")]
    rows = read_csv(
        api_as(org.incident_manager).get(f"/api/v1/reports/sla/breaches/export/?{period}")
    )
    assert [r["Ticket"] for r in rows] == [late.key]
    old = f"from={today - timedelta(days=30)}&to={today - timedelta(days=2)}"
    assert (
        read_csv(api_as(org.incident_manager).get(f"/api/v1/reports/sla/breaches/export/?{old}"))
        == []
    )


def test_api_exports_run_the_same_queries_whatever_the_rows(org) -> None:  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    urls = [
        "/api/v1/incidents/export/",
        "/api/v1/problems/export/",
        "/api/v1/changes/export/",
        "/api/v1/defects/export/",
        "/api/v1/reports/sla/breaches/export/",
    ]
    api = api_as(org.incident_manager)

    def add(n: int) -> None:
        for i in range(n):
            incident = raise_incident(org, f"Down {i}")
            problem_create(actor=org.problem_manager, title=f"P{i}", service=org.service)
            change_create(actor=org.change_manager, title=f"C{i}", services=[org.service])
            work_item_create(actor=org.developer, kind="defect", project=project, title=f"D{i}")
            SlaClock.objects.filter(object_id=incident.pk).update(
                breached=True, breached_at=timezone.now()
            )

    def queries() -> list[int]:
        counts = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert read_csv(api.get(url))
            counts.append(len(ctx.captured_queries))
        return counts

    add(1)
    queries()  # warm: content types and roles are cached after the first request
    few = queries()
    add(6)
    assert queries() == few
    assert max(few) <= 2  # the rows in one query (and the caller's roles)
