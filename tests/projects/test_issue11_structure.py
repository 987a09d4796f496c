"""Issue 11, a work item's structure: labels, components, parent/child and links between
work items — the services (permission, audit, validation) and the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.exceptions import ActionForbidden, ConflictError, ValidationFailed
from core.models import AuditEvent
from projects import services
from projects.iterations import work_item_edit
from projects.models import Component, Label, Project, WorkItem, WorkItemLink
from projects.services import structure

pytestmark = pytest.mark.django_db


def make(project, org, title="Item", kind="enhancement", **kw):  # type: ignore[no-untyped-def]
    return services.work_item_create(
        actor=org.developer, kind=kind, project=project, title=title, **kw
    )


def audit(item, action):  # type: ignore[no-untyped-def]
    return list(
        AuditEvent.objects.filter(object_id=item.pk, action=action, content_type__model="workitem")
    )


def api(user):  # type: ignore[no-untyped-def]
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def payslips(project, org):  # type: ignore[no-untyped-def]
    return structure.component_create(project=project, actor=org.developer, name="Payslips")


# --- labels and components -------------------------------------------------------------------


def test_labels_are_normalised_created_on_first_use_and_audited_by_name(project, org, payslips):
    item = make(project, org)
    work_item_edit(item=item, actor=org.developer, labels=["  Login ", "UI", "dark  mode", "ui"])
    assert sorted(item.labels.values_list("name", flat=True)) == ["dark-mode", "login", "ui"]
    assert Label.objects.filter(project=project).count() == 3
    row = audit(item, "updated")[-1]
    assert row.changes["labels"] == [[], ["dark-mode", "login", "ui"]]
    # the same names on another item reuse the project's labels
    other = make(project, org, "other")
    work_item_edit(item=other, actor=org.developer, labels=["login"])
    assert Label.objects.filter(project=project).count() == 3
    # no change, no audit row
    before = AuditEvent.objects.count()
    work_item_edit(item=item, actor=org.developer, labels=["ui", "login", "DARK MODE"])
    assert AuditEvent.objects.count() == before


def test_label_too_long_is_a_400(project, org):
    item = make(project, org)
    with pytest.raises(ValidationFailed, match="at most 40"):
        work_item_edit(item=item, actor=org.developer, labels=["x" * 41])
    with pytest.raises(ValidationFailed, match="no commas"):
        work_item_edit(item=item, actor=org.developer, labels=["a,b"])
    with pytest.raises(ValidationFailed, match="empty"):
        work_item_edit(item=item, actor=org.developer, labels=["  "])


def test_components_by_name_unknown_is_named(project, org, payslips):
    item = make(project, org)
    work_item_edit(item=item, actor=org.developer, components=["Payslips"])
    assert list(item.components.values_list("name", flat=True)) == ["Payslips"]
    assert audit(item, "updated")[-1].changes["components"] == [[], ["Payslips"]]
    with pytest.raises(ValidationFailed, match="'Taxes'"):
        work_item_edit(item=item, actor=org.developer, components=["Payslips", "Taxes"])


def test_components_are_kept_by_the_manager_and_lead_and_removed_only_unused(
    project, org, payslips
):
    with pytest.raises(ActionForbidden):
        structure.component_create(project=project, actor=org.support2, name="Login")
    with pytest.raises(ConflictError):
        structure.component_create(project=project, actor=org.developer, name="payslips")
    structure.component_update(component=payslips, actor=org.developer, description="PDFs")
    assert AuditEvent.objects.filter(action="component_changed", object_id=project.pk).exists()
    item = make(project, org, components=["Payslips"])
    with pytest.raises(ConflictError, match="on 1 work item"):
        structure.component_delete(component=payslips, actor=org.developer)
    work_item_edit(item=item, actor=org.developer, components=[])
    structure.component_delete(component=payslips, actor=org.developer)
    assert not Component.objects.filter(pk=payslips.pk).exists()
    assert AuditEvent.objects.filter(action="component_removed", object_id=project.pk).exists()


# --- parent / child --------------------------------------------------------------------------


def test_parent_child_three_levels_no_cycle_same_project(project, org):
    epic = make(project, org, "epic")
    story = make(project, org, "story", parent=epic)
    task = make(project, org, "task", parent=story)
    assert list(epic.children.all()) == [story]
    assert audit(story, "created")[0].changes["parent"][1]["id"] == epic.pk
    with pytest.raises(ValidationFailed, match="deeper than 3"):
        make(project, org, "too deep", parent=task)
    with pytest.raises(ValidationFailed, match="cycle"):
        work_item_edit(item=epic, actor=org.developer, parent=task)
    with pytest.raises(ValidationFailed, match="cycle"):
        work_item_edit(item=epic, actor=org.developer, parent=epic)
    # a story with sub-tasks cannot go under another story: four levels
    other_epic = make(project, org, "other epic")
    other_story = make(project, org, "other story", parent=other_epic)
    with pytest.raises(ValidationFailed, match="deeper"):
        work_item_edit(item=story, actor=org.developer, parent=other_story)
    work_item_edit(item=story, actor=org.developer, parent=other_epic)
    assert WorkItem.objects.get(pk=story.pk).parent == other_epic
    assert audit(story, "updated")[-1].changes["parent"][0]["id"] == epic.pk
    elsewhere = Project.objects.create(code="HR", name="HR", team=org.dev)
    foreign = make(elsewhere, org, "foreign")
    with pytest.raises(ValidationFailed, match="same project"):
        work_item_edit(item=story, actor=org.developer, parent=foreign)


def test_edit_is_refused_to_who_does_not_work_on_the_project(project, org):
    item = make(project, org)
    with pytest.raises(ActionForbidden):
        work_item_edit(item=item, actor=org.support2, labels=["x"])
    with pytest.raises(ActionForbidden):  # a sub-item changes the parent's structure
        services.work_item_create(
            actor=org.support2, kind="enhancement", project=project, title="c", parent=item
        )


def test_assignee_must_be_of_the_team_or_the_project_manager(project, org):
    item = make(project, org)
    with pytest.raises(ValidationFailed, match="not in"):
        work_item_edit(item=item, actor=org.developer, assignee=org.agent)
    project.project_manager = org.agent
    project.save()
    work_item_edit(item=item, actor=org.developer, assignee=org.agent)
    assert WorkItem.objects.get(pk=item.pk).assignee == org.agent


# --- links between work items --------------------------------------------------------------


def test_links_read_both_ways_and_are_audited_on_both(project, org):
    a, b = make(project, org, "a"), make(project, org, "b")
    link = structure.work_item_link_add(item=a, other=b, kind="blocks", actor=org.developer)
    assert (link.source, link.target, link.kind) == (a, b, "blocks")
    assert link.phrase_for(b) == ("is blocked by", a)
    assert audit(a, "item_linked")[0].comment == f"blocks {b.key}"
    assert audit(b, "item_linked")[0].comment == f"is blocked by {a.key}"
    # the same kind the other way is the same link
    with pytest.raises(ConflictError):
        structure.work_item_link_add(item=b, other=a, kind="blocks", actor=org.developer)
    with pytest.raises(ConflictError):
        structure.work_item_link_add(item=b, other=a, kind="blocked_by", actor=org.developer)
    # an inward kind is stored the other way round
    dup = structure.work_item_link_add(item=a, other=b, kind="duplicated_by", actor=org.developer)
    assert (dup.source, dup.target, dup.kind) == (b, a, "duplicates")
    structure.work_item_link_remove(link=link, actor=org.developer)
    assert not WorkItemLink.objects.filter(pk=link.pk).exists()
    assert audit(b, "item_unlinked")[0].comment == f"no longer is blocked by {a.key}"


def test_link_refusals(project, org):
    a, b = make(project, org, "a"), make(project, org, "b")
    with pytest.raises(ValidationFailed, match="itself"):
        structure.work_item_link_add(item=a, other=a, kind="relates", actor=org.developer)
    with pytest.raises(ValidationFailed, match="one of"):
        structure.work_item_link_add(item=a, other=b, kind="causes", actor=org.developer)
    with pytest.raises(ActionForbidden):
        structure.work_item_link_add(item=a, other=b, kind="relates", actor=org.support2)


def test_links_across_projects(project, org):
    from core.models import Team

    other_team = Team.objects.create(name="HR Dev", tier=3)
    hr = Project.objects.create(code="HR", name="HR", team=other_team)
    a = make(project, org, "a")
    b = services.work_item_create(actor=org.admin, kind="defect", project=hr, title="b")
    structure.work_item_link_add(item=a, other=b, kind="relates", actor=org.developer)
    # the developer does not work on HR: not from that side
    with pytest.raises(ActionForbidden):
        structure.work_item_link_add(item=b, other=a, kind="blocks", actor=org.developer)


# --- API -----------------------------------------------------------------------------------


def test_api_reads_and_writes_labels_components_parent(project, org, payslips):
    epic = make(project, org, "epic")
    c = api(org.developer)
    r = c.post(
        "/api/v1/enhancements/",
        {
            "project": "PAY",
            "title": "story",
            "labels": ["Login", "ui"],
            "components": ["Payslips"],
            "parent": epic.key,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.data["labels"] == ["login", "ui"]
    assert r.data["components"] == ["Payslips"]
    assert r.data["parent"] == epic.key
    key = r.data["key"]
    assert c.get(f"/api/v1/enhancements/{epic.key}/").data["children"] == [key]
    r = c.patch(f"/api/v1/enhancements/{key}/", {"components": ["Nope"]}, format="json")
    assert r.status_code == 400 and "Nope" in r.data["detail"]
    r = c.patch(f"/api/v1/enhancements/{key}/", {"parent": "ENH-999999"}, format="json")
    assert r.status_code == 400 and "ENH-999999" in str(r.data)
    r = c.patch(f"/api/v1/enhancements/{key}/", {"parent": None, "labels": []}, format="json")
    assert r.status_code == 200 and r.data["parent"] is None and r.data["labels"] == []
    r = api(org.support2).patch(f"/api/v1/enhancements/{key}/", {"labels": ["x"]}, format="json")
    assert r.status_code == 403


def test_api_item_links(project, org):
    a, b = make(project, org, "a"), make(project, org, "b", kind="defect")
    c = api(org.developer)
    url = f"/api/v1/enhancements/{a.key}/item-links/"
    r = c.post(url, {"kind": "blocks", "target": b.key}, format="json")
    assert r.status_code == 201, r.content
    assert r.data["phrase"] == "blocks" and r.data["item"] == b.key
    link_id = r.data["id"]
    r = c.get(f"/api/v1/defects/{b.key}/item-links/")
    assert [(x["phrase"], x["item"], x["direction"]) for x in r.data] == [
        ("is blocked by", a.key, "inward")
    ]
    assert c.post(url, {"kind": "blocks", "target": b.key}, format="json").status_code == 409
    assert c.post(url, {"kind": "relates", "target": a.key}, format="json").status_code == 400
    assert c.post(url, {"kind": "relates", "target": "DEF-99999"}, format="json").status_code == 400
    r = api(org.support2).post(url, {"kind": "relates", "target": b.key}, format="json")
    assert r.status_code == 403
    assert api(org.support2).delete(f"{url}{link_id}/").status_code == 403
    assert api(org.requester).get(url).status_code in (403, 404)
    assert c.delete(f"/api/v1/enhancements/{a.key}/item-links/999999/").status_code == 404
    assert c.delete(f"/api/v1/defects/{b.key}/item-links/{link_id}/").status_code == 204
    assert c.get(url).data == []


def test_api_components(project, org, payslips):
    c = api(org.developer)
    r = c.get("/api/v1/components/?project=PAY")
    assert r.status_code == 200
    assert [x["name"] for x in r.data["results"]] == ["Payslips"]
    r = c.post("/api/v1/components/", {"project": "PAY", "name": "Login"}, format="json")
    assert r.status_code == 201 and r.data["project"] == "PAY"
    login = r.data["id"]
    r = api(org.support2).post("/api/v1/components/", {"project": "PAY", "name": "X"})
    assert r.status_code == 403
    assert c.post("/api/v1/components/", {"project": "PAY", "name": "login"}).status_code == 409
    r = c.patch(f"/api/v1/components/{login}/", {"description": "SSO"}, format="json")
    assert r.status_code == 200 and r.data["description"] == "SSO"
    make(project, org, components=["Login"])
    assert c.delete(f"/api/v1/components/{login}/").status_code == 409
    assert c.delete(f"/api/v1/components/{payslips.pk}/").status_code == 204
