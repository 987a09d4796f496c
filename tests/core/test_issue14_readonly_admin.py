"""The admin's read-only records (the audit trail, attachments, watches, tokens, tickets,
work items, articles, clocks…) share one base, ``core.admin.ReadOnlyAdmin``: listed and
read, never added or changed there; deleted only where it always was (articles, clocks)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from core.admin import ReadOnlyAdmin
from core.models import AuditEvent
from itsm.models import Incident
from knowledge.models import Article
from projects.models import WorkItem
from sla.models import SlaClock


@pytest.mark.django_db
def test_the_admin_refuses_adding_and_changing_read_only_records(  # type: ignore[no-untyped-def]
    admin_client, org, new_incident
) -> None:
    event = AuditEvent.objects.filter(object_id=new_incident.pk).first()
    assert event is not None
    for url in (
        "/admin/core/auditevent/add/",
        "/admin/itsm/incident/add/",
    ):
        assert admin_client.get(url).status_code == 403, url
    # the change page reads, and a post changes nothing
    url = f"/admin/itsm/incident/{new_incident.pk}/change/"
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"title": "Changed"}).status_code == 403
    assert Incident.objects.get(pk=new_incident.pk).title == new_incident.title
    url = f"/admin/core/auditevent/{event.pk}/change/"
    assert admin_client.post(url, {"action": "forged"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == event.action
    assert admin_client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_every_read_only_admin_keeps_its_permissions(admin_user) -> None:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    read_only = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ReadOnlyAdmin)
    }
    assert {AuditEvent, Incident, WorkItem, Article, SlaClock} <= set(read_only)
    assert len(read_only) >= 10
    for model, model_admin in read_only.items():
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        # articles and clocks could always be deleted by an administrator; nothing else
        deletable = model in (Article, SlaClock)
        assert model_admin.has_delete_permission(request) is deletable, model
