"""Fixtures of the tracker sync's tests: a fake Jira Cloud on 127.0.0.1 (tools/fake_jira)
and a connector mapping its project PAY to Tandem's project PAY; and the addresses the
mail-in tests use."""

from __future__ import annotations

import pytest

from core.roles import Role
from tests.factories import UserFactory
from tools.fake_jira import FakeJira

BOT_EMAIL = "tandem-bot@partner.example"
BOT_TOKEN = "bot-api-token-7f3a"
PARTNER_EMAIL = "dana@partner.example"
PARTNER_TOKEN = "dana-token"
WEBHOOK_SECRET = "whsec-jira-3b9c"


def mail_addresses(settings):  # type: ignore[no-untyped-def]
    """The service desk's addresses and defaults every mail-in test runs with."""
    settings.MAIL_DOMAIN = "tandem.test"
    settings.MAIL_SUPPORT_ADDRESS = "support@tandem.test"
    settings.DEFAULT_FROM_EMAIL = "Tandem <tandem@tandem.test>"
    settings.MAIL_DEFAULT_SERVICE = "Payroll"
    settings.MAIL_UNKNOWN_SENDER = "reject"
    settings.MAIL_REQUEST_ITEM = "New laptop"
    return settings


@pytest.fixture
def fake_jira():  # type: ignore[no-untyped-def]
    jira = FakeJira(projects=("PAY",), webhook_secret=WEBHOOK_SECRET)
    jira.account(BOT_EMAIL, BOT_TOKEN, "Tandem bot")
    jira.account(PARTNER_EMAIL, PARTNER_TOKEN, "Dana Partner")
    with jira.running():
        yield jira


@pytest.fixture
def bot(org):  # type: ignore[no-untyped-def]
    """The connector's Tandem user: a developer of the project's team."""
    user = UserFactory(username="jira_bot", roles=[Role.DEVELOPER])
    org.dev.members.add(user)
    return user


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    from projects.models import Project

    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p


@pytest.fixture
def connector(project, bot, fake_jira):  # type: ignore[no-untyped-def]
    from integrations.connectors import secrets
    from integrations.models import Connector, ConnectorMapping

    c = Connector.objects.create(
        name="Partner Jira",
        base_url=fake_jira.url,
        auth_email=BOT_EMAIL,
        api_token_encrypted=secrets.encrypt(BOT_TOKEN),
        webhook_secret_encrypted=secrets.encrypt(WEBHOOK_SECRET),
        allow_private=True,  # the fake listens on 127.0.0.1
        actor=bot,
    )
    ConnectorMapping.objects.create(connector=c, remote_project="PAY", project=project)
    return c
