"""Issue 13: the shared lists (services, teams, users, notifications) and their pages cost a
fixed number of queries, whatever the number of rows they show: measured with one row of
each kind, then with twelve, the count is the same and the twelve are on the page."""

from __future__ import annotations

import pytest

from core.models import Notification, Service, Tier
from core.roles import Role
from core.service_roles import service_role_assign
from tests.factories import TeamFactory, UserFactory
from tests.pins import assert_pinned, client_for, count


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


CASES = [
    ("/api/v1/services/", "agent", count('"name":"Service ')),
    ("/api/v1/services/", "requester", count('"name":"Service ')),
    ("/api/v1/services/payroll/roles/", "agent", count('"username":"holder')),
    ("/api/v1/teams/", "agent", count('"name":"Team ')),
    ("/api/v1/users/", "agent", count('"username":"')),
    ("/api/v1/users/?search=member", "agent", count('"username":"member')),
    ("/api/v1/notifications/", "agent", count('"subject":"Notice ')),
    ("/services/", "admin", lambda b: min(b.count("Service "), b.count("Holder"))),
    ("/services/payroll/", "admin", count("Holder")),
    ("/notifications/", "agent", count("Notice ")),
]


@pytest.mark.parametrize(("url", "role", "shown"), CASES, ids=[f"{u} {r}" for u, r, _ in CASES])
def test_shared_lists_cost_the_same_for_one_or_twelve_rows(org, url, role, shown) -> None:  # type: ignore[no-untyped-def]
    url = url.replace("payroll", str(org.service.pk))
    viewer = getattr(org, role)
    assert_pinned(client_for(viewer, url), url, lambda i: _add(org, i), shown)
