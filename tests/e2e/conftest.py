"""Shared ground of the end-to-end tests (issue 16).

``demo_site``: the demo organisation (``manage.py seed_demo``, with fewer incidents) seeded
once for a whole test module and served by a live server of its own, so that the crawler
and the accessibility checks walk demo-like data for every role without seeding it again
for each one (pytest-django's ``live_server`` would flush the database after every test).
Its tests take ``db`` too (pytest-django sets the test database up only for tests that ask
for it, and lets the server's thread use it only during them).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

# The demo's roles, by their demo user: each role's pages are walked signed in as it.
DEMO_ROLES = [
    "requester",
    "agent",
    "support2",
    "developer",
    "change_manager",
    "release_manager",
    "problem_manager",
    "incident_manager",
    "project_manager",
    "admin",
]

# The demo has 300 incidents (seeding them takes a minute); a few dozen give every list,
# state and page of the demo at a fraction of the time.
DEMO_INCIDENTS = 25


@dataclass
class DemoSite:
    url: str
    cookies: dict[str, str]  # each demo user's session cookie

    def sign_in(self, context: Any, username: str) -> None:
        """Give the browser context ``username``'s session (made, and committed, with the
        demo: a session made in the test's own transaction is invisible to the server)."""
        host = self.url.split("//")[1].split(":")[0]
        context.clear_cookies()
        context.add_cookies(
            [{"name": "sessionid", "value": self.cookies[username], "domain": host, "path": "/"}]
        )


@pytest.fixture(scope="module")
def demo_site(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoSite]:
    """The demo, committed, for a module whose tests take ``db`` (which sets up the test
    database and lets the server's thread in); the database is put back as it was after."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from pytest_django.live_server_helper import LiveServer

    from config.celery import app
    from itsm import demo as itsm_demo

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with django_db_blocker.unblock():
        # seeded and flushed: never anything but the test database
        name = str(connection.settings_dict["NAME"])
        assert name.startswith("test_") or "memorydb" in name, connection.settings_dict
        before_seed = connection.creation.serialize_db_to_string()
        before = itsm_demo.DEMO_INCIDENTS
        itsm_demo.DEMO_INCIDENTS = DEMO_INCIDENTS
        try:
            call_command("seed_demo", stdout=io.StringIO())
        finally:
            itsm_demo.DEMO_INCIDENTS = before
            app.conf.task_always_eager = eager
        cookies = {}
        for user in get_user_model().objects.filter(username__in=DEMO_ROLES):
            client = Client()
            client.force_login(user)
            cookies[user.username] = client.cookies["sessionid"].value
        connections.close_all()
    server = LiveServer("localhost")
    server._live_server_modified_settings.enable()
    try:
        yield DemoSite(url=server.url, cookies=cookies)
    finally:
        server._live_server_modified_settings.disable()
        server.stop()
        with django_db_blocker.unblock():
            name = str(connection.settings_dict["NAME"])
            assert name.startswith("test_") or "memorydb" in name, connection.settings_dict
            # as a transactional test with serialized_rollback leaves it: the data the
            # migrations wrote is back for the tests after this module
            call_command(  # sequences kept: the rows put back keep their ids, new ones go on
                "flush",
                interactive=False,
                verbosity=0,
                inhibit_post_migrate=True,
                reset_sequences=False,
            )
            connection.creation.deserialize_db_from_string(before_seed)
            # the demo's human-key sequences (PostgreSQL) lost their core_sequence rows in
            # the flush: drop them, or the next test's INC-1001 would be INC-1194
            from core.services import key_sequences_forget_orphans

            key_sequences_forget_orphans()
            connections.close_all()
