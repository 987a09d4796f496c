"""Issue 14: *Assign to me* on the ticket page and on a queue row sends the version it
was rendered from: a ticket someone else took (or changed) meanwhile answers 409 saying
who took it, and is not silently reassigned. *Merge into…* (it closes the incident) and the
problem's *Publish workaround* carry the page's version too."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core.models import AuditEvent
from core.roles import Role
from itsm import services
from itsm.models import Incident
from tests.factories import UserFactory
from tests.itsm.test_issue14_page_versions import HTMX, _rendered_version


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def colleague(org):  # type: ignore[no-untyped-def]
    user = UserFactory(
        username="agent2", first_name="Cleo", last_name="Park", roles=[Role.SERVICE_DESK_AGENT]
    )
    org.desk.members.add(user)
    return user


def _assigns(incident: Incident) -> int:
    return AuditEvent.objects.filter(
        content_type__model="incident", object_id=incident.pk, action="assign"
    ).count()


def test_take_from_a_queue_row_taken_meanwhile_says_who_took_it(  # type: ignore[no-untyped-def]
    org, new_incident, colleague
) -> None:
    agent = _client(org.agent)
    queue = agent.get("/desk/").content.decode()
    action = f"/incidents/{new_incident.key}/take/"
    form = queue[queue.index(f'action="{action}"') :].split("</form>", 1)[0]
    version = re.search(r'name="record_version" value="([^"]*)"', form).group(1)  # type: ignore[union-attr]
    services.incident_take(incident=new_incident, actor=colleague)

    r = agent.post(action, {"next": "/desk/", "record_version": version})
    assert r.status_code == 409
    html = r.content.decode()
    assert f"{new_incident.key} was changed by Cleo Park at " in html
    new_incident.refresh_from_db()
    assert new_incident.assignee == colleague  # not taken away from them
    assert _assigns(new_incident) == 1


def test_take_on_the_ticket_page_taken_meanwhile_is_refused_in_the_region(  # type: ignore[no-untyped-def]
    org, new_incident, colleague
) -> None:
    agent = _client(org.agent)
    action = f"/incidents/{new_incident.key}/take/"
    page = agent.get(new_incident.get_absolute_url()).content.decode()
    rendered = _rendered_version(page, action)
    services.incident_take(incident=new_incident, actor=colleague)

    r = agent.post(action, rendered, **HTMX)
    assert r.status_code == 409
    assert f"{new_incident.key} was changed by Cleo Park" in r.content.decode()
    new_incident.refresh_from_db()
    assert new_incident.assignee == colleague
    # the region answered is the ticket as it is now: its button takes it over knowingly
    again = _rendered_version(r.content.decode(), action)
    assert agent.post(action, again, **HTMX).status_code == 200
    new_incident.refresh_from_db()
    assert new_incident.assignee == org.agent


def test_take_from_the_current_version_or_without_one_goes_through(  # type: ignore[no-untyped-def]
    org, new_incident, colleague
) -> None:
    agent = _client(org.agent)
    action = f"/incidents/{new_incident.key}/take/"
    page = agent.get(new_incident.get_absolute_url()).content.decode()
    rendered = _rendered_version(page, action)
    assert agent.post(action, rendered).status_code == 302
    new_incident.refresh_from_db()
    assert new_incident.assignee == org.agent
    assert _client(colleague).post(action, {}).status_code == 302  # a script: not checked
    new_incident.refresh_from_db()
    assert new_incident.assignee == colleague


def test_merge_from_a_page_before_a_change_is_refused(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Merge closes the incident: like a transition, it carries the page's version."""
    master = services.incident_create(
        actor=org.requester2, service=org.service, title="Payroll down", impact="high",
        urgency="high",
    )  # fmt: skip
    agent = _client(org.agent)
    action = f"/incidents/{new_incident.key}/links/merge/"
    rendered = _rendered_version(
        agent.get(new_incident.get_absolute_url()).content.decode(), action
    )
    services.incident_update(incident=new_incident, actor=org.incident_manager, title="Changed")

    r = agent.post(action, {"other": master.key, **rendered})
    assert r.status_code == 409
    assert f"{new_incident.key} was changed by" in r.content.decode()
    assert Incident.objects.get(pk=new_incident.pk).status == "new"
    again = _rendered_version(r.content.decode(), action)
    r = agent.post(action, {"other": master.key, **again})
    assert r.status_code == 302
    assert Incident.objects.get(pk=new_incident.pk).status != "new"


def test_publishing_a_workaround_edited_meanwhile_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    """The workaround published is the one the problem page showed."""
    from itsm.services import problems as problem_services

    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Exports fail", service=org.service
    )
    problem_services.problem_update(problem=problem, actor=org.admin, workaround="Retry.")
    pm = _client(org.problem_manager)
    action = f"/problems/{problem.key}/incidents/publish/"
    rendered = _rendered_version(pm.get(f"/problems/{problem.key}/").content.decode(), action)
    problem_services.problem_update(problem=problem, actor=org.admin, workaround="Do not retry.")
    r = pm.post(action, rendered)
    assert r.status_code == 409
    assert f"{problem.key} was changed by" in r.content.decode()
    problem.refresh_from_db()
    assert not problem.workaround_published
    page = pm.get(f"/problems/{problem.key}/").content.decode()
    assert pm.post(action, _rendered_version(page, action)).status_code == 302
    problem.refresh_from_db()
    assert problem.workaround_published
