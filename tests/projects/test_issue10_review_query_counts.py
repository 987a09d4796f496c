"""Issue 10 review: lists the issue touched cost a fixed number of queries however many
rows they show (STYLE.md: a test pins the number). #20 made the approvals list ask, per
approval, whether a per-service Change Manager holds the role for its change (ticket,
services, role: three queries a row); #23 added the team to time entries, whose target
was read one query a row."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.models import ServiceRole
from core.roles import Role
from itsm.services import changes as cs
from projects import services as ps
from projects.capacity import time_log
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.itsm.test_changes import PLANS


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as q:
        assert client.get(url).status_code == 200
    return len(q.captured_queries)


def _more(org, project, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="t")
        time_log(actor=org.developer, target=item, hours="1")
        ch = cs.change_create(
            actor=org.developer,
            title=f"Change {i}",
            services=[org.service],
            implementer=org.developer,
            **PLANS,
        )
        ch = cs.change_submit(change=ch, actor=org.developer)
        ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
        cs.change_request_approval(change=ch, actor=org.change_manager)  # the CM group


def test_issue10_approvals_and_time_entries_do_not_grow_with_rows(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20/#23 review: the approvals list (API and page) of a per-service Change
    Manager, and one's time entries, cost the same for 2 rows as for 8."""
    local = UserFactory(username="payroll_cm", roles=[Role.SECOND_LINE])
    ServiceRole.objects.create(service=org.service, user=local, role=Role.CHANGE_MANAGER)
    page = Client()
    page.force_login(local)
    lists = [
        (api_as(local), "/api/v1/approvals/?page_size=100"),
        (page, "/approvals/"),
        (api_as(org.developer), "/api/v1/time-entries/?page_size=100"),
    ]
    _more(org, project, 2)
    for client, url in lists:
        _queries(client, url)  # warm the content-type cache
    small = [_queries(client, url) for client, url in lists]
    _more(org, project, 6)
    large = [_queries(client, url) for client, url in lists]
    assert large == small, list(zip([u for _, u in lists], small, large, strict=True))
    assert api_as(local).get("/api/v1/approvals/").json()["count"] == 8


def test_issue10_24_release_list_slip_does_not_query_per_release(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #24 review: each release's ``slip_days`` reads the project's calendar
    (working periods, holidays): prefetched, not two queries a slipped release."""
    from datetime import date, time, timedelta

    from projects.models import Release
    from sla.models import BusinessCalendar, Holiday, WorkingPeriod

    cal = BusinessCalendar.objects.create(name="Payroll team")
    for weekday in range(5):
        WorkingPeriod.objects.create(calendar=cal, weekday=weekday, start=time(9), end=time(17))
    Holiday.objects.create(calendar=cal, date=date(2026, 12, 7), name="Team day")
    project.calendar = cal
    project.save()

    def slipped(n: int) -> None:
        for _ in range(n):
            start = date(2026, 12, 1)
            Release.objects.create(
                project=project,
                version=f"3.{Release.objects.count()}",
                original_planned_date=start,
                planned_date=start + timedelta(days=8),
            )

    client = api_as(org.change_manager)
    slipped(2)
    _queries(client, "/api/v1/releases/?page_size=100")  # warm the content-type cache
    small = _queries(client, "/api/v1/releases/?page_size=100")
    slipped(6)
    large = _queries(client, "/api/v1/releases/?page_size=100")
    rows = client.get("/api/v1/releases/?page_size=100").json()["results"]
    assert {r["slip_days"] for r in rows} == {5}  # 2-4, 8, 9 Dec: the 7th is a holiday
    assert large == small
