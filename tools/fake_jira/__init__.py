"""A fake Jira Cloud for the connector's tests and demos (see ``server``)."""

from tools.fake_jira.server import (  # noqa: F401
    Account,
    FakeJira,
    Recorded,
    SentWebhook,
    adf,
    adf_text,
    jira_time,
)
