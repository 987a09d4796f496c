"""Issue 11 review fix: the services enforce their columns' max_length (a 400 naming the
field), not only the API's serializers: a component named with 81 characters through its
page was stored by SQLite and refused by PostgreSQL with a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ValidationFailed
from projects import services as ps
from projects.models import Component, Project
from projects.services import structure


def test_component_page_refuses_a_name_longer_than_its_column(org, project) -> None:  # type: ignore[no-untyped-def]
    c = Client(raise_request_exception=False)
    c.force_login(org.developer)  # the team lead
    res = c.post(f"/projects/{project.code}/components/", {"name": "x" * 81})
    assert res.status_code == 400
    assert "80" in res.content.decode()
    assert not Component.objects.exists()


def test_component_services_check_lengths(org, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        structure.component_create(project=project, actor=org.developer, name="n" * 81)
    assert err.value.errors.keys() == {"name"}
    row = structure.component_create(project=project, actor=org.developer, name="n" * 80)
    with pytest.raises(ValidationFailed) as err:
        structure.component_update(component=row, actor=org.developer, name="m" * 81)
    assert err.value.errors.keys() == {"name"}


def test_project_name_and_release_version_and_item_title_are_bounded(org, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        ps.project_update(project=project, actor=org.admin, name="p" * 121)
    assert "name" in err.value.errors
    assert Project.objects.get(pk=project.pk).name == "Payroll"
    with pytest.raises(ValidationFailed) as err:
        ps.release_create(actor=org.admin, project=project, version="v" * 41)
    assert "version" in err.value.errors
    release = ps.release_create(actor=org.admin, project=project, version="1.0")
    with pytest.raises(ValidationFailed) as err:
        ps.release_update(release=release, actor=org.admin, name="r" * 121)
    assert "name" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        ps.work_item_create(actor=org.developer, kind="defect", project=project, title="t" * 201)
    assert "title" in err.value.errors
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="t")
    with pytest.raises(ValidationFailed) as err:
        ps.work_item_update(item=item, actor=org.developer, title="t" * 201)
    assert "title" in err.value.errors
