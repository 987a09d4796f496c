"""Issue 10 #20: per-service process roles are honoured by every permission that names a
process role, and administrators see and edit them through the API and a page."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden
from core.models import AuditEvent, ServiceRole
from core.roles import Role
from itsm import permissions as itsm_permissions
from itsm import services as incident_services
from projects import permissions as project_permissions
from projects import services as project_services
from projects.models import Project, Release
from tests.conftest import api_as
from tests.factories import ServiceFactory, UserFactory


@pytest.fixture
def payroll_rm(org):  # type: ignore[no-untyped-def]
    """A developer who is Release Manager of Payroll only (no global role)."""
    person = UserFactory(username="payroll_rm", roles=[Role.SECOND_LINE])
    ServiceRole.objects.create(service=org.service, user=person, role=Role.RELEASE_MANAGER)
    return person


def test_per_service_release_manager_runs_that_services_releases_only(org, payroll_rm) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20: a per-service Release Manager plans and moves the releases of the
    projects that build their service, not of others."""
    payroll = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    payroll.services.add(org.service)
    other = Project.objects.create(code="HR", name="HR", team=org.dev)
    other.services.add(ServiceFactory(name="HR"))

    release = project_services.release_create(actor=payroll_rm, project=payroll, version="2.4")
    release = project_services.release_transition(
        release=release, actor=payroll_rm, name="start_development"
    )
    assert release.status == "development"
    assert project_permissions.can_go_live(payroll_rm, release)
    assert project_permissions.can_work_on(payroll_rm, payroll)

    with pytest.raises(ActionForbidden):
        project_services.release_create(actor=payroll_rm, project=other, version="1.0")
    hr = Release.objects.create(project=other, version="1.0")
    assert not project_permissions.can_go_live(payroll_rm, hr)
    with pytest.raises(ActionForbidden):
        project_services.release_roll_back(release=hr, actor=payroll_rm, reason="x")


def test_every_process_role_honours_its_per_service_holder(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20: Incident, Problem and Change Manager per service, through one rule."""
    im = UserFactory(username="im_payroll", roles=[Role.SECOND_LINE])
    ServiceRole.objects.create(service=org.service, user=im, role=Role.INCIDENT_MANAGER)
    assert itsm_permissions.is_incident_manager(im, new_incident)
    incident_services.incident_assign(incident=new_incident, actor=im, team=org.support)
    pm = UserFactory(username="pm_payroll", roles=[Role.DEVELOPER])
    ServiceRole.objects.create(service=org.service, user=pm, role=Role.PROBLEM_MANAGER)
    assert itsm_permissions.is_problem_manager(pm, org.service.pk)
    assert not itsm_permissions.is_problem_manager(pm, ServiceFactory(name="Other").pk)


def test_service_roles_api(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20: /services/{id}/roles/ lists, adds and removes role holders;
    administrators only write, staff read, requesters do not."""
    url = f"/api/v1/services/{org.service.pk}/roles/"
    admin = api_as(org.admin)
    res = admin.post(url, {"user": org.support2.pk, "role": "Release Manager"}, format="json")
    assert res.status_code == 201, res.content
    held = res.json()
    assert held["user"]["username"] == "support2" and held["role"] == "Release Manager"
    again = admin.post(url, {"user": org.support2.pk, "role": "Release Manager"}, format="json")
    assert again.status_code == 409
    bad = admin.post(url, {"user": org.support2.pk, "role": "Project Manager"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()["fields"]
    assert (
        api_as(org.agent)
        .post(url, {"user": org.agent.pk, "role": "Incident Manager"}, format="json")
        .status_code
        == 403
    )
    listed = api_as(org.agent).get(url)
    assert listed.status_code == 200 and [h["id"] for h in listed.json()] == [held["id"]]
    assert api_as(org.requester).get(url).status_code == 403
    assert api_as(org.agent).delete(f"{url}{held['id']}/").status_code == 403
    assert admin.delete(f"{url}{held['id']}/").status_code == 204
    assert admin.delete(f"{url}{held['id']}/").status_code == 404
    assert not ServiceRole.objects.exists()
    actions = AuditEvent.objects.filter(object_id=org.service.pk).values_list("action", flat=True)
    assert set(actions) >= {"service_role_assigned", "service_role_removed"}
    schema = admin.get("/api/v1/schema/").content.decode()
    assert "/api/v1/services/{id}/roles/" in schema


def test_services_pages_show_holders_and_let_only_administrators_edit(org, payroll_rm) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20 (and #3): the services page shows teams and role holders; the edit
    forms are offered to administrators only, and only they may post them."""
    page = Client()
    page.force_login(org.agent)
    html = page.get("/services/").content.decode()
    assert "Payroll" in html and "App Support" in html and "Release Manager" in html
    detail = f"/services/{org.service.pk}/"
    html = page.get(detail).content.decode()
    assert "Release Manager" in html
    assert "add-role-holder" not in html and "Remove" not in html
    res = page.post(detail, {"user": org.agent.pk, "role": "Incident Manager"})
    assert res.status_code == 403 and not ServiceRole.objects.filter(user=org.agent).exists()

    page.force_login(org.admin)
    html = page.get(detail).content.decode()
    assert "add-role-holder" in html and "Remove" in html
    res = page.post(detail, {"user": org.agent.pk, "role": "Incident Manager"})
    assert res.status_code == 302
    assert ServiceRole.objects.filter(user=org.agent, role="Incident Manager").exists()
    res = page.post(detail, {"user": org.agent.pk, "role": "Chief"})
    assert res.status_code == 400
    held = ServiceRole.objects.get(user=org.agent)
    assert page.post(detail, {"op": "remove", "holder": held.pk}).status_code == 302
    assert not ServiceRole.objects.filter(user=org.agent).exists()

    page.force_login(org.requester)
    assert page.get("/services/").status_code == 404


def test_per_service_change_manager_decides_the_change_managers_approval(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20: an approval asked of the Change Managers may be given by the Change
    Manager of the change's service; it is on their approvals list, not on others'."""
    from itsm.services import approvals
    from itsm.services import changes as cs

    cm = UserFactory(username="cm_payroll", roles=[Role.SECOND_LINE])
    ServiceRole.objects.create(service=org.service, user=cm, role=Role.CHANGE_MANAGER)
    other = UserFactory(username="cm_hr", roles=[Role.SECOND_LINE])
    ServiceRole.objects.create(
        service=ServiceFactory(name="HR"), user=other, role=Role.CHANGE_MANAGER
    )
    change = cs.change_create(
        actor=org.developer,
        title="Patch",
        services=[org.service],
        implementation_plan="p",
        backout_plan="b",
        test_plan="t",
    )
    change = cs.change_submit(change=change, actor=org.developer)
    change = cs.change_assess(change=change, actor=cm, risk_answers={})
    change = cs.change_request_approval(change=change, actor=cm)
    [approval] = approvals.pending_for(cm)
    assert not approvals.pending_for(other).exists()
    decided = cs.change_decide(approval=approval, actor=cm, decision="approved")
    assert decided.decision == "approved" and cs.approvals_complete(change)
