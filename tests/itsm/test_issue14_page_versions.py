"""Issue 14: the incident page's forms send the version they were rendered from; a post
after someone else's change is refused, saying who changed what, and writes nothing."""

from __future__ import annotations

import re

from django.test import Client

from core.models import AuditEvent
from itsm import services
from itsm.models import Incident
from tests.conftest import drive
from tests.itsm.test_requests import mouse  # noqa: F401  (fixture)

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ticket"}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _rendered_version(html: str, action: str) -> dict[str, str]:
    """The hidden version fields of the form posting to ``action``."""
    form = html[html.index(f'action="{action}"') :].split("</form>", 1)[0]
    version = re.search(r'name="record_version" value="([^"]*)"', form)
    seen = re.search(r'name="record_seen" value="([^"]*)"', form)
    assert version and seen, form[:500]
    return {"record_version": version.group(1), "record_seen": seen.group(1)}


def _edit(incident: Incident, org, title: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "title": title,
        "service": org.service.pk,
        "category": incident.category,
        "impact": incident.impact,
        "urgency": incident.urgency,
    }


def test_transition_form_from_before_a_change_is_refused_with_what_changed(  # type: ignore[no-untyped-def]
    org, new_incident
) -> None:
    incident = drive(new_incident, org, "assigned")
    agent = _client(org.agent)
    page = agent.get(f"/incidents/{incident.key}/").content.decode()
    action = f"/incidents/{incident.key}/transitions/resolve/"
    rendered = _rendered_version(page, action)
    # meanwhile the Incident Manager starts it
    services.incident_start(incident=incident, actor=org.incident_manager)
    started = AuditEvent.objects.filter(object_id=incident.pk, action="start").count()

    # resolving is allowed from in progress too: only the version stops it
    resolve = {"resolution_code": "fixed", "resolution_notes": "Reset the tax code."}
    r = agent.post(action, {**resolve, **rendered}, **HTMX)
    assert r.status_code == 409
    html = r.content.decode()
    name = org.incident_manager.get_full_name() or org.incident_manager.username
    assert f"{incident.key} was changed by {name} at " in html
    assert "status Assigned → In progress" in html
    assert "reload" in html
    incident.refresh_from_db()
    assert incident.status == "in_progress"  # the resolve did not happen
    assert AuditEvent.objects.filter(object_id=incident.pk, action="resolve").count() == 0
    assert AuditEvent.objects.filter(object_id=incident.pk, action="start").count() == started
    # the answer is the region as it is now, the form kept: sent again, it goes through
    again = _rendered_version(html, action)
    assert again["record_version"] != rendered["record_version"]
    r = agent.post(action, {**resolve, **again}, **HTMX)
    assert r.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_edit_form_from_before_a_change_is_refused_and_writes_nothing(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    page = agent.get(f"/incidents/{new_incident.key}/").content.decode()
    action = f"/incidents/{new_incident.key}/edit/"
    rendered = _rendered_version(page, action)
    services.incident_update(
        incident=new_incident, actor=org.incident_manager, title="Payroll down for all"
    )
    r = agent.post(action, {**_edit(new_incident, org, "Mine"), **rendered}, **HTMX)
    assert r.status_code == 409
    html = r.content.decode()
    assert f"{new_incident.key} was changed by" in html
    assert "Payroll down for all" in html  # what changed, and the page shows it now
    new_incident.refresh_from_db()
    assert new_incident.title == "Payroll down for all"


def test_forms_from_the_current_version_and_posts_without_one_go_through(  # type: ignore[no-untyped-def]
    org, new_incident
) -> None:
    agent = _client(org.agent)
    page = agent.get(f"/incidents/{new_incident.key}/").content.decode()
    action = f"/incidents/{new_incident.key}/edit/"
    rendered = _rendered_version(page, action)
    r = agent.post(action, {**_edit(new_incident, org, "First"), **rendered})
    assert r.status_code == 302
    r = agent.post(action, _edit(new_incident, org, "Second"))  # a script, no version
    assert r.status_code == 302
    new_incident.refresh_from_db()
    assert new_incident.title == "Second"


def test_a_requester_is_not_told_internal_moves(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """The refusal says only what the user's history shows (core.visibility): the team
    and the person support assigned are theirs to know from the page, not from here."""
    requester = _client(org.requester)
    page = requester.get(f"/incidents/{new_incident.key}/").content.decode()
    action = f"/incidents/{new_incident.key}/transitions/cancel/"
    rendered = _rendered_version(page, action)
    services.incident_update(incident=new_incident, actor=org.incident_manager, title="Internal")
    r = requester.post(action, {**rendered}, **HTMX)
    assert r.status_code == 409
    html = r.content.decode()
    message = html[html.index("data-form-error>") :].split("</", 1)[0]
    assert f"{new_incident.key} was changed" in message
    assert "Internal" not in message
    new_incident.refresh_from_db()
    assert new_incident.status == "new"


def test_request_page_transition_from_before_a_change_is_refused(org, mouse) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from itsm.services import requests as request_services

    req = request_services.request_submit(actor=org.requester, item=mouse, answers={})
    support = _client(org.support2)
    page = support.get(f"/requests/{req.key}/").content.decode()
    action = f"/requests/{req.key}/transitions/start_fulfilment/"
    rendered = _rendered_version(page, action)
    request_services.request_comment(
        request=req, actor=org.requester, body="Wireless, please", public=True
    )
    r = support.post(action, rendered, **HTMX)
    assert r.status_code == 409
    assert f"{req.key} was changed" in r.content.decode()
    req.refresh_from_db()
    status = req.status
    assert status != "fulfilling"
    again = _rendered_version(r.content.decode(), action)
    assert support.post(action, again, **HTMX).status_code == 200
    req.refresh_from_db()
    assert req.status == "fulfilling"


def test_problem_page_edit_and_transition_from_before_a_change_are_refused(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.models import Problem
    from itsm.services import problems as problem_services

    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Exports fail", service=org.service
    )
    pm = _client(org.problem_manager)
    page = pm.get(f"/problems/{problem.key}/").content.decode()
    edit = _rendered_version(page, f"/problems/{problem.key}/edit/")
    problem_services.problem_update(problem=problem, actor=org.admin, root_cause="A cron job")
    r = pm.post(f"/problems/{problem.key}/edit/", {"title": "Mine", "root_cause": "Mine", **edit})
    assert r.status_code == 409
    assert f"{problem.key} was changed by" in r.content.decode()
    assert Problem.objects.get(pk=problem.pk).root_cause == "A cron job"
    fresh = _rendered_version(r.content.decode(), f"/problems/{problem.key}/edit/")
    r = pm.post(f"/problems/{problem.key}/edit/", {"title": "Mine", **fresh})
    assert r.status_code == 302


def test_change_page_transition_from_before_a_change_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import changes as change_services

    change = change_services.change_create(
        actor=org.developer,
        title="Upgrade payroll",
        services=[org.service],
        implementation_plan="Upgrade.",
        backout_plan="Restore.",
        test_plan="Smoke.",
    )
    dev = _client(org.developer)
    page = dev.get(f"/changes/{change.key}/").content.decode()
    action = f"/changes/{change.key}/transitions/submit/"
    rendered = _rendered_version(page, action)
    change_services.change_update(change=change, actor=org.developer, title="Upgrade payroll 2")
    r = dev.post(action, rendered)
    assert r.status_code == 409
    assert f"{change.key} was changed by" in r.content.decode()
    change.refresh_from_db()
    assert change.status == "draft"
    r = dev.post(action, _rendered_version(r.content.decode(), action))
    assert r.status_code == 302
    change.refresh_from_db()
    assert change.status != "draft"
