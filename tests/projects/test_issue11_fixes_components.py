"""Issue 11 review fix: a component's lead follows the assignee's rule (the project's
team and its manager: ``structure.assignable_users``), and a component PATCH refuses the
fields it does not take (400), as a project PATCH does."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ValidationFailed
from projects.models import Component
from projects.services import structure
from tests.conftest import api_as


def test_the_service_refuses_a_lead_outside_the_team(org, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        structure.component_create(
            project=project, actor=org.developer, name="Payslips", lead=org.requester
        )
    assert err.value.errors.keys() == {"lead"}
    row = structure.component_create(
        project=project, actor=org.developer, name="Payslips", lead=org.developer
    )
    with pytest.raises(ValidationFailed) as err:
        structure.component_update(component=row, actor=org.developer, lead=org.requester)
    assert err.value.errors.keys() == {"lead"}
    assert Component.objects.get(pk=row.pk).lead == org.developer


def test_the_page_and_the_api_refuse_it_too(org, project) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.developer)
    res = c.post(
        f"/projects/{project.code}/components/", {"name": "Login", "lead": org.requester.pk}
    )
    assert res.status_code == 400 and not Component.objects.exists()
    api = api_as(org.developer)
    res = api.post(
        "/api/v1/components/",
        {"project": project.code, "name": "Login", "lead": org.requester.pk},
        format="json",
    )
    assert res.status_code == 400 and "lead" in res.json()["fields"]


def test_component_patch_refuses_unknown_fields(org, project) -> None:  # type: ignore[no-untyped-def]
    row = structure.component_create(project=project, actor=org.developer, name="Payslips")
    api = api_as(org.developer)
    res = api.patch(
        f"/api/v1/components/{row.pk}/", {"description": "x", "project": "OTHER"}, format="json"
    )
    assert res.status_code == 400 and "project" in res.json()["fields"]
    assert Component.objects.get(pk=row.pk).description == ""
