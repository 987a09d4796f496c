"""Issue 14: administrators' changes to configuration are in the audit trail — SLA
policies, calendars and their holidays, roles (a user's groups), the catalogue — whether
made in the Django admin or through the API: one row each, naming who and what changed."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent
from core.roles import Role
from sla.models import BusinessCalendar, SlaPolicy
from tests.conftest import api_as
from tests.factories import UserFactory


def _rows(obj: Any) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("id")
    )


def _form_data(response: Any) -> dict[str, Any]:
    """What the admin's change page would post back unchanged: its form and inlines."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            widget = form.fields[name].widget
            if isinstance(widget, forms.MultiWidget):  # a date and a time (date_joined)
                for i, part in enumerate(widget.decompress(value)):
                    data[f"{form.add_prefix(name)}_{i}"] = str(part)
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = "on" if value is True else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.initial_forms:
            add(form)
    return data


def _post_change(client: Any, url: str, **changed: Any) -> Any:
    page = client.get(url)
    assert page.status_code == 200
    data = _form_data(page)
    data.update(changed)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


@pytest.mark.django_db
def test_changing_an_sla_policy_in_the_admin_writes_who_and_what(  # type: ignore[no-untyped-def]
    admin_client, admin_user, sla_policies
) -> None:
    policy = SlaPolicy.objects.order_by("id").first()
    old = policy.response_minutes
    before = len(_rows(policy))
    _post_change(
        admin_client,
        f"/admin/sla/slapolicy/{policy.pk}/change/",
        response_minutes=str(old + 15),
    )
    rows = _rows(policy)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row.action == "config_changed"
    assert row.actor == admin_user
    assert row.changes == {"response_minutes": [old, old + 15]}
    assert "response_minutes" in row.comment and policy.name in row.comment


@pytest.mark.django_db
def test_saving_unchanged_writes_nothing(admin_client, sla_policies) -> None:  # type: ignore[no-untyped-def]
    policy = SlaPolicy.objects.order_by("id").first()
    before = len(_rows(policy))
    _post_change(admin_client, f"/admin/sla/slapolicy/{policy.pk}/change/")
    assert len(_rows(policy)) == before


@pytest.mark.django_db
def test_a_holiday_added_to_a_calendar_is_audited_on_the_calendar(  # type: ignore[no-untyped-def]
    admin_client, admin_user
) -> None:
    calendar = BusinessCalendar.objects.create(name="UK office")
    url = f"/admin/sla/businesscalendar/{calendar.pk}/change/"
    page = admin_client.get(url)
    data = _form_data(page)
    data.update({"holidays-TOTAL_FORMS": "1", "holidays-0-date": "2026-12-25"})
    data["holidays-0-name"] = "Christmas Day"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    row = _rows(calendar)[-1]
    assert row.action == "config_changed" and row.actor == admin_user
    assert row.changes == {
        "holiday 2026-12-25 Christmas Day": [
            None,
            {"date": "2026-12-25", "name": "Christmas Day"},
        ]
    }


@pytest.mark.django_db
def test_granting_a_role_in_the_admin_is_audited_on_the_user(  # type: ignore[no-untyped-def]
    admin_client, admin_user
) -> None:
    person = UserFactory(username="pat", roles=[Role.SERVICE_DESK_AGENT])
    # The admin's date and time boxes hold whole seconds: saving would change it otherwise.
    person.date_joined = person.date_joined.replace(microsecond=0)
    person.save(update_fields=["date_joined"])
    manager = Group.objects.get(name=Role.INCIDENT_MANAGER)
    url = f"/admin/auth/user/{person.pk}/change/"
    data = _form_data(admin_client.get(url))
    data["groups"] = [*data.get("groups", []), str(manager.pk)]
    response = admin_client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [i.formset.errors for i in response.context["inline_admin_formsets"]],
    )
    row = _rows(person)[-1]
    assert row.action == "config_changed" and row.actor == admin_user
    assert row.changes == {
        "groups": [["Service Desk Agent"], ["Incident Manager", "Service Desk Agent"]]
    }
    assert not any("password" in k for k in row.changes)


@pytest.mark.django_db
def test_deleting_in_the_admin_leaves_a_row_naming_what_went(  # type: ignore[no-untyped-def]
    admin_client, admin_user
) -> None:
    calendar = BusinessCalendar.objects.create(name="Temporary")
    pk = calendar.pk
    response = admin_client.post(f"/admin/sla/businesscalendar/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not BusinessCalendar.objects.filter(pk=pk).exists()
    row = AuditEvent.objects.get(
        content_type=ContentType.objects.get_for_model(BusinessCalendar),
        object_id=pk,
        action="config_deleted",
    )
    assert row.actor == admin_user and row.changes == {"record": ["Temporary", None]}


@pytest.mark.django_db
def test_adding_a_catalogue_item_in_the_admin_is_audited(  # type: ignore[no-untyped-def]
    admin_client, admin_user, org
) -> None:
    from itsm.models import CatalogItem

    page = admin_client.get("/admin/itsm/catalogitem/add/")
    data = _form_data(page)
    data.update(
        {"name": "New laptop", "service": str(org.service.pk), "fulfilment_team": str(org.desk.pk)}
    )
    for inline in page.context["inline_admin_formsets"]:
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = "0"
    response = admin_client.post("/admin/itsm/catalogitem/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    item = CatalogItem.objects.get(name="New laptop")
    row = _rows(item)[-1]
    assert row.action == "config_created" and row.actor == admin_user
    assert row.changes["name"] == [None, "New laptop"]


@pytest.mark.django_db
def test_changing_an_sla_policy_through_the_api_is_audited(org) -> None:  # type: ignore[no-untyped-def]
    policy = SlaPolicy.objects.order_by("id").first()
    old = policy.resolution_minutes
    response = api_as(org.admin).patch(
        f"/api/v1/sla-policies/{policy.pk}/",
        {"resolution_minutes": old + 60},
        format="json",
    )
    assert response.status_code == 200, response.content
    row = _rows(policy)[-1]
    assert row.action == "config_changed" and row.actor == org.admin
    assert row.changes == {"resolution_minutes": [old, old + 60]}
    # A PATCH that changes nothing writes nothing.
    count = len(_rows(policy))
    api_as(org.admin).patch(
        f"/api/v1/sla-policies/{policy.pk}/", {"resolution_minutes": old + 60}, format="json"
    )
    assert len(_rows(policy)) == count


@pytest.mark.django_db
def test_a_calendar_created_and_deleted_through_the_api_is_audited(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.admin)
    response = client.post(
        "/api/v1/calendars/",
        {"name": "Night shift", "timezone": "Europe/London", "periods": [], "holidays": []},
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    calendar = BusinessCalendar.objects.get(pk=pk)
    assert _rows(calendar)[-1].action == "config_created"
    assert client.delete(f"/api/v1/calendars/{pk}/").status_code == 204
    kinds = [
        r.action
        for r in AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(BusinessCalendar), object_id=pk
        )
    ]
    assert kinds == ["config_created", "config_deleted"]
