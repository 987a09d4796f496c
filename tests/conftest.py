from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.models import Service, Team, Tier
from core.roles import Role
from itsm import services
from itsm.models import Incident
from tests.browser import browser_page  # noqa: F401  (the browser tests' fixture)
from tests.factories import ServiceFactory, TeamFactory, UserFactory

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
HAS_REDIS = bool(os.environ.get("REDIS_URL"))


def pytest_configure(config: pytest.Config) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_report_header(config: pytest.Config) -> str:
    """One line at the top of every run: whether the browser tests run, and on what."""
    from tests.browser import CHROMIUM, RESULTS, browser_skip_reason

    reason = browser_skip_reason()
    if reason:
        return f"browser tests SKIPPED: {reason}"
    return f"browser tests: Chromium at {CHROMIUM} (a failure leaves its pages in {RESULTS}/)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://…")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not HAS_REDIS:
            item.add_marker(skip_redis)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the test item (``rep_call``): the browser fixture saves
    its pages when the test failed (tests/browser.py)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _celery_eager(settings):  # type: ignore[no-untyped-def]
    """Tasks queued after commit run in-process unless a test starts a real worker."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    settings.TANDEM_BASE_URL = "http://tandem.test"
    # API rate limits are off unless a test names its rates (the counters would outlive
    # the test that made them: a suite is thousands of requests by the same few users)
    settings.API_THROTTLE_RATES = {}
    yield
    app.conf.task_always_eager = False


@dataclass
class Org:
    """A small organisation: the three tiers, a service they support, and one user per role."""

    desk: Team
    support: Team
    dev: Team
    other_desk: Team
    service: Service
    requester: object
    requester2: object
    agent: object
    agent_other: object
    support2: object
    developer: object
    incident_manager: object
    change_manager: object
    admin: object
    problem_manager: object


@pytest.fixture
def sla_policies(db) -> None:  # type: ignore[no-untyped-def]
    """The shipped policies (a transactional test's flush removes migration data)."""
    from sla.defaults import install_default_policies
    from sla.models import BusinessCalendar, SlaPolicy, WorkingPeriod

    install_default_policies(BusinessCalendar, WorkingPeriod, SlaPolicy)


@pytest.fixture
def org(db, sla_policies) -> Org:  # type: ignore[no-untyped-def]
    requester = UserFactory(username="requester", roles=[Role.REQUESTER])
    requester2 = UserFactory(username="requester2", roles=[Role.REQUESTER])
    agent = UserFactory(username="agent", roles=[Role.SERVICE_DESK_AGENT])
    agent_other = UserFactory(username="agent_other", roles=[Role.SERVICE_DESK_AGENT])
    support2 = UserFactory(username="support2", roles=[Role.SECOND_LINE])
    developer = UserFactory(username="developer", roles=[Role.DEVELOPER])
    incident_manager = UserFactory(username="incident_manager", roles=[Role.INCIDENT_MANAGER])
    change_manager = UserFactory(username="change_manager", roles=[Role.CHANGE_MANAGER])
    admin = UserFactory(username="admin", roles=[Role.ADMINISTRATOR])
    problem_manager = UserFactory(username="problem_manager", roles=[Role.PROBLEM_MANAGER])
    desk = TeamFactory(name="Service Desk", tier=Tier.SERVICE_DESK, members=[agent], lead=agent)
    other_desk = TeamFactory(name="Branch Desk", tier=Tier.SERVICE_DESK, members=[agent_other])
    support = TeamFactory(
        name="App Support", tier=Tier.APPLICATION_SUPPORT, members=[support2], lead=support2
    )
    dev = TeamFactory(
        name="Payroll Dev", tier=Tier.DEVELOPMENT, members=[developer], lead=developer
    )
    service = ServiceFactory(name="Payroll", support_team=support, development_team=dev)
    return Org(
        desk,
        support,
        dev,
        other_desk,
        service,
        requester,
        requester2,
        agent,
        agent_other,
        support2,
        developer,
        incident_manager,
        change_manager,
        admin,
        problem_manager,
    )


@pytest.fixture
def new_incident(org: Org) -> Incident:
    return services.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payslip shows wrong tax code",
        impact="high",
        urgency="medium",
    )


def drive(incident: Incident, org: Org, state: str) -> Incident:
    """Bring a new incident into ``state`` through the services."""
    if state == "new":
        return incident
    if state == "cancelled":
        return services.incident_cancel(incident=incident, actor=org.requester)
    incident = services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
    if state == "assigned":
        return incident
    incident = services.incident_start(incident=incident, actor=org.agent)
    if state == "in_progress":
        return incident
    if state == "on_hold":
        return services.incident_hold(incident=incident, actor=org.agent, reason="awaiting_vendor")
    incident = services.incident_resolve(
        incident=incident, actor=org.agent, resolution_code="fixed", resolution_notes="Fixed."
    )
    if state == "resolved":
        return incident
    assert state == "closed", state
    return services.incident_close(incident=incident, actor=org.requester)


@pytest.fixture
def api(db) -> APIClient:  # type: ignore[no-untyped-def]
    return APIClient()


def api_as(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client
