"""Issue 13: the shared lists (services, teams, users, notifications) and their pages cost a
fixed number of queries, whatever the number of rows they show: measured with one row of
each kind, then with twelve, the count is the same and the twelve are on the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.models import Notification, Service, Tier
from core.roles import Role
from core.service_roles import service_role_assign
from tests.conftest import api_as
from tests.factories import TeamFactory, UserFactory


def _add(org, i: int) -> None:  # type: ignore[no-untyped-def]
    """One more row of every list: a team with a lead and two members, a service it
    supports, a person holding a process role for the org's service, notifications for
    the admin and the agent."""
    lead = UserFactory(username=f"lead{i}", roles=[Role.SECOND_LINE])
    member = UserFactory(username=f"member{i}", roles=[Role.DEVELOPER])
    team = TeamFactory(
        name=f"Team {i}", tier=Tier.APPLICATION_SUPPORT, members=[lead, member], lead=lead
    )
    Service.objects.create(
        name=f"Service {i}", support_team=team, development_team=org.dev, description="x"
    )
    holder = UserFactory(username=f"holder{i}", roles=[Role.SECOND_LINE])
    service_role_assign(service=org.service, user=holder, role=Role.CHANGE_MANAGER, actor=org.admin)
    for user in (org.admin, org.agent):
        Notification.objects.create(
            user=user,
            event="incident.assigned",
            family="assigned",
            subject=f"Notice {i}",
            url=f"/incidents/INC-{1000 + i}/",
        )


def _queries(client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
        assert res.status_code == 200, (url, res.content[:500])
    return len(ctx.captured_queries), res.content.decode()


def _count(word: str):  # type: ignore[no-untyped-def]
    return lambda body: body.count(word)


CASES = [
    ("/api/v1/services/", "agent", _count('"name":"Service ')),
    ("/api/v1/services/", "requester", _count('"name":"Service ')),
    ("/api/v1/services/payroll/roles/", "agent", _count('"username":"holder')),
    ("/api/v1/teams/", "agent", _count('"name":"Team ')),
    ("/api/v1/users/", "agent", _count('"username":"')),
    ("/api/v1/users/?search=member", "agent", _count('"username":"member')),
    ("/api/v1/notifications/", "agent", _count('"subject":"Notice ')),
    ("/services/", "admin", lambda b: min(b.count("Service "), b.count("Holder"))),
    ("/services/payroll/", "admin", _count("Holder")),
    ("/notifications/", "agent", _count("Notice ")),
]


@pytest.mark.parametrize(("url", "role", "shown"), CASES, ids=[f"{u} {r}" for u, r, _ in CASES])
def test_shared_lists_cost_the_same_for_one_or_twelve_rows(org, url, role, shown) -> None:  # type: ignore[no-untyped-def]
    url = url.replace("payroll", str(org.service.pk))
    viewer = getattr(org, role)
    client: Any
    if url.startswith("/api/"):
        client = api_as(viewer)
    else:
        client = Client()
        client.force_login(viewer)
    _add(org, 0)
    _queries(client, url)  # warm the process's caches (content types, refcache)
    one, _ = _queries(client, url)
    for i in range(1, 12):
        _add(org, i)
    twelve, body = _queries(client, url)
    assert shown(body) >= 12, (url, shown(body))  # the twelve are really on the page
    assert twelve == one, (url, one, twelve)
