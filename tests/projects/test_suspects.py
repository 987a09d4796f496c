"""Suspect changes and releases: the next day's incident points at release 2.3."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from core.models import OutboxMessage
from core.selectors import history_of
from itsm import services as itsm
from projects import services as ps
from projects.suspects import incident_rate, release_suspect_incidents, suspects_for
from tests.conftest import api_as
from tests.projects.test_release_control import ready_release  # noqa: F401


def go_live(org, release):  # type: ignore[no-untyped-def]
    ps.release_sign_off_uat(release=release, actor=org.support2)
    ps.release_transition(release=release, actor=org.change_manager, name="ready")
    return ps.release_go_live(release=release, actor=org.change_manager)


def test_next_days_incident_is_a_suspect_of_the_release(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    org.dev.email = "payroll-dev@example.test"
    org.dev.save()
    release = go_live(org, ready_release)
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        inc = itsm.incident_create(
            actor=org.requester, service=org.service, title="Payslips show the old tax code"
        )
    assert list(release_suspect_incidents(release)) == [inc]
    assert history_of(inc).filter(action="hypercare").exists()
    routed = OutboxMessage.objects.get(event="release.hypercare_incident")
    assert routed.recipients == ["payroll-dev@example.test"]
    [suspect] = suspects_for(inc)
    assert suspect.change == release.change and suspect.release == release
    assert 23 < suspect.hours_before < 25
    rate = incident_rate(release)
    assert [r["count"] for r in rate if r["offset"] == 1] == [1]
    c = Client()
    c.force_login(org.agent)
    page = c.get(inc.get_absolute_url()).content.decode()
    assert 'data-suspect="' + release.change.key + '"' in page
    c.post(f"/changes/{release.change.key}/caused/", {"incident": inc.key})
    inc.refresh_from_db()
    assert inc.caused_by_change == release.change
    release_page = c.get(release.get_absolute_url()).content.decode()
    assert inc.key in release_page and "caused by this release" in release_page
    body = api_as(org.agent).get(f"/api/v1/incidents/{inc.key}/suspects/").json()
    assert body[0]["release"] == str(release)
    api = api_as(org.agent).get(f"/api/v1/releases/{release.pk}/suspects/").json()
    assert [i["key"] for i in api["incidents"]] == [inc.key]


def test_outside_the_windows_nothing_is_suspected(org, project, ready_release, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.RELEASE_HYPERCARE_HOURS = 72
    settings.SUSPECT_CHANGE_HOURS = 48
    release = go_live(org, ready_release)
    with time_machine.travel(timezone.now() + timedelta(days=4), tick=False):
        inc = itsm.incident_create(actor=org.requester, service=org.service, title="Later")
    assert suspects_for(inc) == []
    assert inc not in release_suspect_incidents(release)
    assert not history_of(inc).filter(action="hypercare").exists()
