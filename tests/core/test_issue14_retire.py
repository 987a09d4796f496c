"""Issue 14: a team or a business calendar that records name is retired instead of
deleted, as services and SLA policies are (core.retire). Retired, it is offered for no
new assignment (pages, API, admin, escalation, routing); what already names it keeps
showing it; the refused delete of any of the four says to retire it instead."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from core.exceptions import ValidationFailed
from core.models import AuditEvent, Service, Team, Tier
from core.retire import config_set_active
from itsm import services
from itsm.models import Incident
from sla.models import BusinessCalendar, SlaClock, SlaPolicy
from tests.conftest import api_as
from tests.factories import ServiceFactory, TeamFactory


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _retire(obj: Any) -> None:
    type(obj).objects.filter(pk=obj.pk).update(is_active=False)
    obj.refresh_from_db()


def _audits(obj: Any) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("id")
    )


# --- retiring and reactivating ------------------------------------------------------------


def test_the_api_retires_and_reactivates_a_team_and_a_calendar_audited(org) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    res = admin.patch(f"/api/v1/teams/{org.support.pk}/", {"is_active": False}, format="json")
    assert res.status_code == 200 and res.json()["is_active"] is False
    assert Team.objects.get(pk=org.support.pk).is_active is False
    row = _audits(org.support)[-1]
    assert row.action == "config_changed" and row.changes == {"is_active": [True, False]}
    listed = admin.get("/api/v1/teams/?is_active=false").json()
    assert [t["id"] for t in listed["results"]] == [org.support.pk]
    res = admin.patch(f"/api/v1/teams/{org.support.pk}/", {"is_active": True}, format="json")
    assert res.status_code == 200 and Team.objects.get(pk=org.support.pk).is_active

    calendar = BusinessCalendar.objects.create(name="Branch hours")
    res = admin.patch(f"/api/v1/calendars/{calendar.pk}/", {"is_active": False}, format="json")
    assert res.status_code == 200 and res.json()["is_active"] is False
    assert BusinessCalendar.objects.get(pk=calendar.pk).is_active is False
    assert _audits(calendar)[-1].changes == {"is_active": [True, False]}
    # only administrators change configuration
    res = api_as(org.agent).patch(
        f"/api/v1/calendars/{calendar.pk}/", {"is_active": True}, format="json"
    )
    assert res.status_code == 403


@pytest.mark.django_db
def test_the_admin_retires_and_reactivates_the_four_audited(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    team = TeamFactory(name="Old desk", tier=Tier.SERVICE_DESK)
    calendar = BusinessCalendar.objects.create(name="Old hours")
    for obj, url in (
        (team, "/admin/core/team/"),
        (calendar, "/admin/sla/businesscalendar/"),
    ):
        r = admin_client.post(url, {"action": "retire", "_selected_action": [obj.pk]})
        assert r.status_code == 302
        obj.refresh_from_db()
        assert obj.is_active is False
        row = _audits(obj)[-1]
        assert row.actor == admin_user and row.changes == {"is_active": [True, False]}
        assert "retired" in row.comment
        admin_client.post(url, {"action": "reactivate", "_selected_action": [obj.pk]})
        obj.refresh_from_db()
        assert obj.is_active is True
    service = ServiceFactory(name="Old app")
    r = admin_client.post(
        "/admin/core/service/", {"action": "retire", "_selected_action": [service.pk]}
    )
    assert r.status_code == 302 and not Service.objects.get(pk=service.pk).is_active
    assert admin_client.get("/admin/core/team/?is_active__exact=0").status_code == 200
    # retiring what is retired already writes nothing
    before = len(_audits(service))
    assert config_set_active(obj=service, actor=admin_user, active=False) is False
    assert len(_audits(service)) == before


@pytest.mark.django_db
def test_admin_choices_skip_retired_teams_and_calendars_but_keep_the_current(  # type: ignore[no-untyped-def]
    admin_client, sla_policies
) -> None:
    old = TeamFactory(name="Old support", tier=Tier.APPLICATION_SUPPORT)
    new = TeamFactory(name="New support", tier=Tier.APPLICATION_SUPPORT)
    spare = TeamFactory(name="Spare support", tier=Tier.APPLICATION_SUPPORT)
    service = ServiceFactory(name="Ledger", support_team=old)
    _retire(old)
    _retire(spare)
    form = admin_client.get(f"/admin/core/service/{service.pk}/change/").context["adminform"].form
    choices = set(form.fields["support_team"].queryset)
    assert old in choices and new in choices and spare not in choices
    form = admin_client.get("/admin/core/service/add/").context["adminform"].form
    assert old not in set(form.fields["support_team"].queryset)

    policy = SlaPolicy.objects.order_by("id").first()
    retired = BusinessCalendar.objects.create(name="Retired hours", is_active=False)
    form = admin_client.get(f"/admin/sla/slapolicy/{policy.pk}/change/").context["adminform"].form
    calendars = set(form.fields["calendar"].queryset)
    assert policy.calendar in calendars and retired not in calendars


# --- the refused delete says to retire ------------------------------------------------------


def test_every_refused_delete_says_retire_it_instead(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    clock = SlaClock.objects.first()
    assert clock is not None
    for url, name in (
        (f"/api/v1/teams/{org.support.pk}/", "Team 'App Support'"),
        (f"/api/v1/services/{org.service.pk}/", "Service 'Payroll'"),
        (f"/api/v1/sla-policies/{clock.policy.pk}/", f"SLA policy '{clock.policy}'"),
        (f"/api/v1/calendars/{clock.policy.calendar.pk}/", "'"),
    ):
        res = admin.delete(url)
        assert res.status_code == 409, url
        message = res.json()["message"]
        assert message.startswith(name) or name == "'", message
        assert "retire it instead" in message, message
    assert Team.objects.filter(pk=org.support.pk, is_active=True).exists()
    assert BusinessCalendar.objects.filter(pk=clock.policy.calendar.pk).exists()


# --- new assignments skip a retired team ------------------------------------------------------


def test_a_retired_team_takes_no_new_incident_but_keeps_its_own(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    spare = TeamFactory(name="Spare desk", tier=Tier.SERVICE_DESK, members=[org.agent])
    _retire(spare)
    with pytest.raises(ValidationFailed, match="Team 'Spare desk' is retired"):
        services.incident_assign(incident=new_incident, actor=org.agent, team=spare)
    res = api_as(org.agent).post(
        f"/api/v1/incidents/{new_incident.key}/transitions/assign/",
        {"team": spare.pk},
        format="json",
    )
    assert res.status_code == 400 and "retired" in res.json()["message"]
    assert res.json()["fields"].get("team"), res.json()
    # the page's Assign form does not offer it
    page = _client(org.agent).get(new_incident.get_absolute_url()).content.decode()
    assert "Spare desk" not in page

    # an incident already with a team that is then retired keeps it, shows it, and may
    # be assigned within it (keeping is not assigning) or moved to an active team
    _retire(org.desk)
    incident = Incident.objects.get(pk=new_incident.pk)
    assert incident.team == org.desk
    incident = services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
    assert incident.team == org.desk and incident.assignee == org.agent
    page = _client(org.agent).get(incident.get_absolute_url()).content.decode()
    assert "Service Desk" in page


def test_escalation_to_a_retired_team_is_refused_by_name(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    _retire(org.support)  # the service's own 2nd line
    other = TeamFactory(name="Other support", tier=Tier.APPLICATION_SUPPORT)
    page = _client(org.agent).get(new_incident.get_absolute_url()).content.decode()
    escalate = page[page.index('id="escalate-team"') :].split("</select>", 1)[0]
    assert "App Support" not in escalate and "Other support" in escalate
    with pytest.raises(ValidationFailed, match="Team 'App Support' is retired"):
        services.incident_escalate(incident=new_incident, actor=org.agent, reason="L2 needed")
    done = services.incident_escalate(
        incident=new_incident, actor=org.agent, reason="L2 needed", team=other
    )
    assert done.team == other and done.tier == 2


def test_a_breach_does_not_escalate_into_a_retired_teams_queue(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    from itsm.sla_hooks import on_clock_breached
    from sla.models import BreachEscalation

    clock = SlaClock.objects.filter(object_id=new_incident.pk).first()
    assert clock is not None
    policy = clock.policy
    policy.breach_escalation = BreachEscalation.NEXT_TIER
    policy.notify_incident_manager = False
    policy.save()
    _retire(org.support)
    incident = Incident.objects.get(pk=new_incident.pk)
    on_clock_breached(clock=SlaClock.objects.get(pk=clock.pk), ticket=incident)
    assert Incident.objects.get(pk=new_incident.pk).tier == 1  # stayed: told, not moved
    Team.objects.filter(pk=org.support.pk).update(is_active=True)
    incident = Incident.objects.select_related("service__support_team").get(pk=new_incident.pk)
    on_clock_breached(clock=SlaClock.objects.get(pk=clock.pk), ticket=incident)
    assert Incident.objects.get(pk=new_incident.pk).team == org.support


def test_new_incidents_land_with_an_active_desk(org) -> None:  # type: ignore[no-untyped-def]
    from core import refcache

    spare = TeamFactory(name="Backup desk", tier=Tier.SERVICE_DESK)
    _retire(org.desk)  # the first desk (by id) is retired: the next one takes new work
    refcache.invalidate()  # (a save would; the test retires with an update)
    inc = services.incident_create(
        actor=org.requester, service=org.service, title="VPN", impact="low", urgency="low"
    )
    assert inc.team_id != org.desk.pk
    assert inc.team_id != org.desk.pk
    assert Team.objects.get(pk=inc.team_id).is_active and spare.is_active


def test_a_retired_teams_queue_still_opens(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    _retire(org.desk)
    r = _client(org.agent).get(f"/desk/?queue=team-{org.desk.pk}")
    assert r.status_code == 200
    assert new_incident.key in r.content.decode()


def test_problems_and_changes_take_no_retired_team_but_keep_theirs(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import changes as change_services
    from itsm.services import problems as problem_services

    old = TeamFactory(name="Old support", tier=Tier.APPLICATION_SUPPORT)
    problem = problem_services.problem_create(
        actor=org.problem_manager, title="Exports fail", service=org.service, team=old
    )
    _retire(old)
    with pytest.raises(ValidationFailed, match="retired"):
        problem_services.problem_create(
            actor=org.problem_manager, title="Other", service=org.service, team=old
        )
    # the edit form re-posts its own team: kept, saved
    pm = _client(org.problem_manager)
    page = pm.get(f"/problems/{problem.key}/").content.decode()
    assert "Old support" in page
    r = pm.post(f"/problems/{problem.key}/edit/", {"title": "Exports fail", "team": old.pk})
    assert r.status_code == 302
    new_form = pm.get("/problems/new/").content.decode()
    assert "Old support" not in new_form
    res = api_as(org.problem_manager).patch(
        f"/api/v1/problems/{problem.key}/", {"team": org.support.pk}, format="json"
    )
    assert res.status_code == 200
    res = api_as(org.problem_manager).patch(
        f"/api/v1/problems/{problem.key}/", {"team": old.pk}, format="json"
    )
    assert res.status_code == 400 and "retired" in res.json()["message"]

    change = change_services.change_create(
        actor=org.developer, title="Upgrade", services=[org.service]
    )
    with pytest.raises(ValidationFailed, match="retired"):
        change_services.change_update(change=change, actor=org.developer, team=old)
    change = change_services.change_update(change=change, actor=org.developer, team=org.support)
    assert change.team == org.support


def test_services_and_policies_choose_no_retired_team_or_calendar(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    old = TeamFactory(name="Old support", tier=Tier.APPLICATION_SUPPORT)
    service = ServiceFactory(name="Ledger", support_team=old)
    _retire(old)
    res = admin.patch(
        f"/api/v1/services/{org.service.pk}/", {"support_team": old.pk}, format="json"
    )
    assert res.status_code == 400 and "retired" in str(res.json()["fields"]["support_team"])
    # a service naming it keeps it through an edit of something else
    res = admin.patch(
        f"/api/v1/services/{service.pk}/",
        {"description": "Books", "support_team": old.pk},
        format="json",
    )
    assert res.status_code == 200

    clock = SlaClock.objects.first()
    policy = clock.policy  # type: ignore[union-attr]
    calendar = policy.calendar
    _retire(calendar)
    res = admin.patch(
        f"/api/v1/sla-policies/{policy.pk}/",
        {"response_minutes": 45, "calendar": calendar.pk},
        format="json",
    )
    assert res.status_code == 200  # its own calendar: kept
    body = {
        "name": "New P5",
        "ticket_type": "incident",
        "priority": 5,
        "calendar": calendar.pk,
        "response_minutes": 60,
        "resolution_minutes": 600,
    }
    res = admin.post("/api/v1/sla-policies/", body, format="json")
    assert res.status_code == 400 and "retired" in str(res.json()["fields"]["calendar"])
    # the retired calendar still counts for the policy and clocks on it
    assert SlaPolicy.objects.get(pk=policy.pk).calendar == calendar


def test_projects_choose_no_retired_team_or_calendar(org) -> None:  # type: ignore[no-untyped-def]
    from projects.models import Project
    from projects.services.projects import check_project_fields

    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)

    TeamFactory(name="New dev", tier=Tier.DEVELOPMENT)
    calendar = BusinessCalendar.objects.create(name="Dev hours")
    project.calendar = calendar
    project.save()
    _retire(org.dev)
    _retire(calendar)
    admin = _client(org.admin)
    page = admin.get(f"/projects/{project.code}/settings/").content.decode()
    assert "Payroll Dev" in page and "New dev" in page and "Dev hours" in page
    # its own team and calendar pass; a retired one for another project does not
    check_project_fields({"team": org.dev, "calendar": calendar}, project=project)
    with pytest.raises(ValidationFailed, match="retired"):
        check_project_fields({"team": org.dev}, project=None)
    with pytest.raises(ValidationFailed, match="retired"):
        check_project_fields({"calendar": calendar}, project=None)
    new = admin.get("/projects/new/").content.decode()
    assert "Payroll Dev" not in new and "New dev" in new and "Dev hours" not in new
