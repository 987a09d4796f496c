"""Issue 11: releases created and edited in the browser and the API by the Release
Manager, the Project Manager and the project's team lead; the lifecycle's fields are
never edited; everything audited."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.roles import Role
from core.selectors import history_of
from itsm.services import changes as cs
from projects import services as ps
from projects.models import Release
from tests.conftest import api_as
from tests.factories import UserFactory


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def people(org, project):  # type: ignore[no-untyped-def]
    """A Release Manager, the project's own Project Manager, and a developer of the team
    who is not its lead (org.developer leads the team)."""
    rm = UserFactory(username="release_manager", roles=[Role.RELEASE_MANAGER])
    own_pm = UserFactory(username="own_pm", roles=[Role.DEVELOPER])
    dev2 = UserFactory(username="dev2", roles=[Role.DEVELOPER])
    org.dev.members.add(dev2)
    project.project_manager = own_pm
    project.save()
    return {"rm": rm, "pm": own_pm, "lead": org.developer, "dev2": dev2}


def a_change(org, title="Deploy"):  # type: ignore[no-untyped-def]
    return cs.change_create(actor=org.developer, title=title, services=[org.service])


@pytest.mark.parametrize("who", ["rm", "pm", "lead"])
def test_release_update_by_its_planners_is_audited(org, project, release, people, who) -> None:  # type: ignore[no-untyped-def]
    actor = people[who]
    ps.release_update(
        release=release,
        actor=actor,
        version="2.4",
        planned_date=date(2027, 1, 15),
        description="Tax year 2027",
        notes="Faster payslips",
    )
    release.refresh_from_db()
    assert (release.version, release.description, release.notes) == (
        "2.4",
        "Tax year 2027",
        "Faster payslips",
    )
    event = history_of(release).get(action="updated")
    assert event.actor == actor
    assert set(event.changes) == {"version", "planned_date", "description", "notes"}
    assert event.changes["version"] == ["2.3", "2.4"]


def test_release_update_refused_to_others(org, release, people) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        ps.release_update(release=release, actor=people["dev2"], name="mine")
    with pytest.raises(ActionForbidden):
        ps.release_create(actor=people["dev2"], project=release.project, version="3.0")


def test_release_create_by_a_project_manager_role_holder(org, project) -> None:  # type: ignore[no-untyped-def]
    pm = UserFactory(username="pm_role", roles=[Role.PROJECT_MANAGER])
    r = ps.release_create(actor=pm, project=project, version="5.0", description="Big one")
    assert r.description == "Big one"
    assert history_of(r).get(action="created").changes["description"] == [None, "Big one"]


@pytest.mark.parametrize(
    "field", ["status", "went_live_at", "uat_signed_off_at", "original_planned_date", "slip_days"]
)
def test_lifecycle_fields_are_never_edited(org, release, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="lifecycle"):
        ps.release_update(release=release, actor=org.admin, **{field: None})
    with pytest.raises(ValidationFailed, match="cannot be edited"):
        ps.release_update(release=release, actor=org.admin, project=None)


def test_duplicate_version_is_400(org, project, release) -> None:  # type: ignore[no-untyped-def]
    Release.objects.create(project=project, version="2.4")
    with pytest.raises(ValidationFailed, match="exists already"):
        ps.release_update(release=release, actor=org.admin, version=" 2.4 ")


def test_deploying_change_follows_the_rules_and_freezes_after_go_live(org, release) -> None:  # type: ignore[no-untyped-def]
    change = a_change(org)
    ps.release_update(release=release, actor=org.admin, change=change)
    release.refresh_from_db()
    assert release.change == change
    assert history_of(release).get(action="updated").changes["change"][1]["id"] == change.pk
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    release.refresh_from_db()
    with pytest.raises(IllegalTransition, match="record"):
        ps.release_update(release=release, actor=org.admin, change=a_change(org, "Other"))
    with pytest.raises(IllegalTransition, match="version"):
        ps.release_update(release=release, actor=org.admin, version="9")
    # the text still changes once live; the same values are no change at all
    ps.release_update(
        release=release, actor=org.admin, description="Shipped", notes="Intro", version="2.3"
    )
    release.refresh_from_db()
    assert (release.description, release.notes, release.version) == ("Shipped", "Intro", "2.3")


def test_change_on_other_services_is_refused(org, release) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import ServiceFactory

    other = cs.change_create(actor=org.developer, title="HR", services=[ServiceFactory()])
    with pytest.raises(ValidationFailed, match="touches none"):
        ps.release_update(release=release, actor=org.admin, change=other)


def test_replan_keeps_an_emergency_slip(org, release) -> None:  # type: ignore[no-untyped-def]
    # Friday 4 Dec 2026 slipped by 3 working days to Wednesday 9 Dec
    Release.objects.filter(pk=release.pk).update(
        planned_date=date(2026, 12, 9), original_planned_date=date(2026, 12, 4)
    )
    release.refresh_from_db()
    assert release.slip_days == 3
    ps.release_update(release=release, actor=org.admin, planned_date=date(2026, 12, 16))
    release.refresh_from_db()
    assert release.planned_date == date(2026, 12, 16)
    assert release.slip_days == 3  # the re-plan moved the baseline, not the slip
    assert release.original_planned_date == date(2026, 12, 11)
    ps.release_update(release=release, actor=org.admin, planned_date=None)
    release.refresh_from_db()
    assert release.original_planned_date is None and release.slip_days == 0


# --- API ----------------------------------------------------------------------------


def test_api_patch_release(org, release, people) -> None:  # type: ignore[no-untyped-def]
    api = api_as(people["rm"])
    r = api.patch(
        f"/api/v1/releases/{release.pk}/",
        {"description": "Tax", "planned_date": "2027-02-01"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["description"] == "Tax" and r.json()["planned_date"] == "2027-02-01"
    r = api.patch(f"/api/v1/releases/{release.pk}/", {"status": "live"}, format="json")
    assert r.status_code == 400 and "lifecycle" in r.json()["detail"]
    Release.objects.filter(pk=release.pk).update(status="cancelled")
    r = api.patch(f"/api/v1/releases/{release.pk}/", {"version": "7"}, format="json")
    assert r.status_code == 409
    r = api_as(people["dev2"]).patch(
        f"/api/v1/releases/{release.pk}/", {"description": "x"}, format="json"
    )
    assert r.status_code == 403
    rows = api.get(f"/api/v1/releases/{release.pk}/history/").json()["results"]
    assert [row["action"] for row in rows] == ["updated"]


def test_api_create_release_with_description(org, project, people) -> None:  # type: ignore[no-untyped-def]
    r = api_as(people["lead"]).post(
        "/api/v1/releases/",
        {"project": "PAY", "version": "3.0", "description": "Next"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["description"] == "Next"
    r = api_as(people["dev2"]).post(
        "/api/v1/releases/", {"project": "PAY", "version": "3.1"}, format="json"
    )
    assert r.status_code == 403


# --- pages --------------------------------------------------------------------------


def test_edit_link_only_when_permitted(org, release, people) -> None:  # type: ignore[no-untyped-def]
    url = f"/releases/{release.pk}/"
    assert 'id="edit-release"' in client_for(people["pm"]).get(url).content.decode()
    assert 'id="edit-release"' not in client_for(people["dev2"]).get(url).content.decode()
    assert client_for(people["dev2"]).get(f"{url}edit/").status_code == 403
    board = client_for(people["lead"]).get("/projects/PAY/").content.decode()
    assert 'id="new-release"' in board
    board = client_for(people["dev2"]).get("/projects/PAY/").content.decode()
    assert 'id="new-release"' not in board
    listing = client_for(people["dev2"]).get("/projects/").content.decode()
    assert "/projects/PAY/releases/new/" not in listing
    listing = client_for(people["rm"]).get("/projects/").content.decode()
    assert "/projects/PAY/releases/new/" in listing


def test_release_pages_create_and_edit(org, project, people) -> None:  # type: ignore[no-untyped-def]
    c = client_for(people["pm"])
    change = a_change(org)
    page = c.get("/projects/PAY/releases/new/")
    assert page.status_code == 200 and change.key in page.content.decode()
    r = c.post(
        "/projects/PAY/releases/new/",
        {"version": "4.0", "name": "Spring", "change": change.pk, "description": "D"},
    )
    assert r.status_code == 302
    rel = Release.objects.get(project=project, version="4.0")
    assert rel.change == change and rel.description == "D"
    r = c.post("/projects/PAY/releases/new/", {"version": "4.0"})
    assert r.status_code == 400 and "exists already" in r.content.decode()
    edit = c.get(f"/releases/{rel.pk}/edit/")
    assert edit.status_code == 200 and 'value="4.0"' in edit.content.decode()
    r = c.post(
        f"/releases/{rel.pk}/edit/",
        {"version": "4.1", "name": "Spring", "change": change.pk, "notes": "Highlights"},
    )
    assert r.status_code == 302
    rel.refresh_from_db()
    assert (rel.version, rel.notes, rel.description) == ("4.1", "Highlights", "")
    assert set(history_of(rel).get(action="updated").changes) == {
        "version",
        "notes",
        "description",
    }
    r = c.post(f"/releases/{rel.pk}/edit/", {"version": ""})
    assert r.status_code == 400
    # once live only the description and the notes intro are offered
    Release.objects.filter(pk=rel.pk).update(status="live", went_live_at=timezone.now())
    html = c.get(f"/releases/{rel.pk}/edit/").content.decode()
    assert 'name="notes"' in html and 'name="version"' not in html
    r = c.post(f"/releases/{rel.pk}/edit/", {"description": "Done", "notes": "Highlights"})
    assert r.status_code == 302
    rel.refresh_from_db()
    assert rel.description == "Done" and rel.version == "4.1" and rel.change == change


def test_no_release_page_for_an_archived_project(org, project, people) -> None:  # type: ignore[no-untyped-def]
    ps.project_archive(project=project, actor=org.admin)
    r = client_for(people["pm"]).get("/projects/PAY/releases/new/")
    assert r.status_code == 400 and "archived" in r.content.decode()
