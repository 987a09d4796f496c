"""Issue 11, "Done when", through the REST API alone: a project manager creates a project
and its release with its deploying change; three items are planned into an iteration
against the team's capacity net of the 20 % support share; the developer moves them
(one move refused with its reason), comments with a mention that reaches the person,
attaches a screenshot, links a pull request, and the iteration closes with one item
carried over; the burndown and velocity answer. Only the people, teams, service and the
change are set up outside the API."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import OutboxMessage
from core.roles import Role
from itsm.services import changes as cs
from projects.models import Iteration, IterationStatus, Project, Release, WorkItem
from tests.conftest import api_as
from tests.factories import UserFactory

MONDAY = date(2026, 11, 23)  # Sprint 1: Mon 23 Nov – Fri 4 Dec 2026, ten working days
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


def test_issue11_done_when_through_the_api(org) -> None:  # type: ignore[no-untyped-def]
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    colleague = UserFactory(username="dana", roles=[Role.DEVELOPER], email="dana@example.test")
    org.dev.members.add(colleague)
    # setup: the normal change that will deploy the release, on the project's service
    change = cs.change_create(
        actor=org.developer, title="Deploy Payroll 3.0", services=[org.service]
    )
    pm_api, dev = api_as(pm), api_as(org.developer)

    with time_machine.travel(at(MONDAY - timedelta(days=3)), tick=False):
        # --- a. the project manager creates the project and its release with its change
        r = pm_api.post(
            "/api/v1/projects/",
            {
                "code": "PAYX",
                "name": "Payroll X",
                "team": org.dev.pk,
                "services": [org.service.pk],
                "project_manager": pm.pk,
            },
            format="json",
        )
        assert r.status_code == 201, r.content
        project = Project.objects.get(code="PAYX")
        assert project.project_manager == pm and list(project.services.all()) == [org.service]
        r = pm_api.post(
            "/api/v1/releases/",
            {
                "project": "PAYX",
                "version": "3.0",
                "planned_date": "2026-12-10",
                "change": change.pk,
            },
            format="json",
        )
        assert r.status_code == 201, r.content
        release = Release.objects.get(project=project, version="3.0")
        assert release.change_id == change.pk

        # --- b. the developer files three items; the PM plans two iterations
        keys = []
        for title, hours in (("Payslip rounding", "8"), ("Tax code export", "5"), ("PDF", "3")):
            r = dev.post(
                "/api/v1/defects/",
                {
                    "project": "PAYX",
                    "title": title,
                    "estimate_hours": hours,
                    "target_release": release.pk,
                },
                format="json",
            )
            assert r.status_code == 201, r.content
            keys.append(r.json()["key"])
        a, b, c = keys
        ids = {}
        for name, start, end in (
            ("Sprint 1", "2026-11-23", "2026-12-04"),
            ("Sprint 2", "2026-12-07", "2026-12-18"),
        ):
            r = pm_api.post(
                "/api/v1/iterations/",
                {"project": "PAYX", "name": name, "start": start, "end": end, "goal": "Pay"},
                format="json",
            )
            assert r.status_code == 201, r.content
            ids[name] = r.json()["id"]
        s1, s2 = ids["Sprint 1"], ids["Sprint 2"]
        for key in keys:  # a developer of the team (not its lead) plans the items
            r = api_as(colleague).patch(f"/api/v1/defects/{key}/", {"iteration": s1}, format="json")
            assert r.status_code == 200, r.content
            assert r.json()["iteration"]["id"] == s1

    with time_machine.travel(at(MONDAY, 9), tick=False):
        r = pm_api.post(f"/api/v1/iterations/{s1}/transitions/start/", {}, format="json")
        assert r.status_code == 200 and r.json()["status"] == "active", r.content
        # capacity: two members × 10 working days × 8 h × (1 − 20 %)
        r = pm_api.get(f"/api/v1/iterations/{s1}/capacity/")
        assert r.status_code == 200
        cap = r.json()
        assert (cap["gross_hours"], cap["support_hours"], cap["net_hours"]) == (160, 32, 128)
        assert cap["planned_hours"] == 16
        assert {m["username"]: m["support_share"] for m in cap["members"]} == {
            "developer": 20,
            "dana": 20,
        }

    with time_machine.travel(at(MONDAY + timedelta(days=1)), tick=False):
        # --- c. the developer moves them; one move is refused with its reason
        for key, steps in ((a, ("triage", "start", "submit_review")), (b, ("triage", "start"))):
            for name in steps:
                r = dev.post(f"/api/v1/defects/{key}/transitions/{name}/", {}, format="json")
                assert r.status_code == 200, (key, name, r.content)
        r = dev.post(f"/api/v1/defects/{c}/transitions/submit_review/", {}, format="json")
        assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
        assert r.json()["detail"] == f"Cannot submit review {c} while it is open."
        assert WorkItem.objects.get(project=project, title="PDF").status == "open"

        # --- d. a comment with a mention reaches the person mentioned
        r = dev.post(
            f"/api/v1/defects/{a}/comments/",
            {"body": "Rounding **fixed**; @dana can you review?"},
            format="json",
        )
        assert r.status_code == 201, r.content
        assert OutboxMessage.objects.filter(
            event="work_item.mentioned", recipients=["dana@example.test"]
        ).exists()

        # --- e. a screenshot attached, listed as an image
        r = dev.post(
            f"/api/v1/defects/{a}/attachments/",
            {"file": SimpleUploadedFile("screen.png", PNG, content_type="image/png")},
            format="multipart",
        )
        assert r.status_code == 201, r.content
        r = dev.get(f"/api/v1/defects/{a}/attachments/")
        assert r.status_code == 200
        assert [(x["name"], x["is_image"]) for x in r.json()["results"]] == [("screen.png", True)]
        got = dev.get(r.json()["results"][0]["download_url"])
        assert got.status_code == 200 and b"".join(got.streaming_content) == PNG
        assert api_as(org.requester).get(f"/api/v1/defects/{a}/attachments/").status_code == 404

        # --- f. a pull request whose title names the key is linked to the item
        url = "https://github.com/acme/payroll/pull/42"
        r = dev.post(
            "/api/v1/dev-links/", {"url": url, "title": f"{a}: round half up"}, format="json"
        )
        assert r.status_code in (200, 201), r.content
        assert [(x["item"], x["kind"]) for x in r.json()["linked"]] == [(a, "pull_request")]
        r = dev.get(f"/api/v1/defects/{a}/dev-links/")
        assert r.status_code == 200
        body = r.json()
        rows = body["results"] if isinstance(body, dict) else body
        assert [(x["url"], x["kind"]) for x in rows] == [(url, "pull_request")]

    with time_machine.travel(at(MONDAY + timedelta(days=3)), tick=False):
        for key, name in ((a, "fix"), (b, "submit_review"), (b, "fix")):
            r = dev.post(f"/api/v1/defects/{key}/transitions/{name}/", {}, format="json")
            assert r.status_code == 200, (key, name, r.content)
        r = dev.post(f"/api/v1/defects/{c}/transitions/triage/", {}, format="json")
        assert r.status_code == 200, r.content

    with time_machine.travel(at(MONDAY + timedelta(days=11), 17), tick=False):
        # --- g. closing carries the unfinished item over to the next iteration
        r = pm_api.post(
            f"/api/v1/iterations/{s1}/transitions/close/", {"move_to": s2}, format="json"
        )
        assert r.status_code == 200, r.content
        assert r.json()["status"] == "closed"
        assert r.json()["committed_hours"] == "16.0" and r.json()["completed_hours"] == "13.0"
        assert Iteration.objects.get(pk=s1).status == IterationStatus.CLOSED
        assert WorkItem.objects.get(project=project, title="PDF").iteration_id == s2
        assert [
            w.iteration_id for w in WorkItem.objects.filter(project=project).exclude(title="PDF")
        ] == [s1, s1]
        r = dev.get(f"/api/v1/defects/{c}/")
        assert r.json()["iteration"]["id"] == s2

        # --- h. the burndown and the velocity
        r = pm_api.get(f"/api/v1/iterations/{s1}/burndown/")
        assert r.status_code == 200, r.content
        days = {d["date"]: d for d in r.json()["days"]}
        assert r.json()["committed_hours"] == 16
        assert days["2026-11-23"]["remaining_hours"] == 16
        assert days["2026-11-26"]["remaining_hours"] == 3  # a and b fixed on Thursday
        r = pm_api.get("/api/v1/iterations/velocity/", {"project": "PAYX"})
        assert r.status_code == 200, r.content
        v = r.json()
        assert [
            (x["name"], x["committed_hours"], x["completed_hours"], x["item_count"])
            for x in v["iterations"]
        ] == [("Sprint 1", "16.0", "13.0", 2)], v
        assert v["average_completed_hours"] == 13.0
