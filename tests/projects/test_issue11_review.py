"""Issue 11, review of the increment: the interplay of hypercare routing, My work,
attachments and the board (defects found after the parts were merged)."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from itsm import services as itsm
from projects.models import HypercareRoute, Release


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_issue11_my_work_lists_hypercare_incidents_routed_to_my_team(org, project, release) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (bridge + My work): an incident raised in a release's hypercare is in the
    release team's 3rd-line queue, so My work (the developer's 3rd-line incidents) lists it
    too, although the incident itself still sits with the service desk."""
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Tax wrong")
    assert HypercareRoute.objects.filter(incident=inc, team=org.dev).exists()
    html = client_for(org.developer).get("/my-work/").content.decode()
    assert inc.key in html


def test_issue11_attachment_over_the_limit_is_dropped_while_it_streams(
    org, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): a file over ATTACHMENT_MAX_BYTES is cut off as it arrives,
    not stored whole in memory or a temporary file and refused afterwards; the API and
    the page answer 400 with the size rule, and nothing is attached."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.files.uploadhandler import (
        MemoryFileUploadHandler,
        TemporaryFileUploadHandler,
    )

    from core.models import Attachment
    from tests.conftest import api_as

    settings.ATTACHMENT_MAX_BYTES = 1000
    stored = {"bytes": 0}
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        original = handler.receive_data_chunk

        def counting(self, raw_data, start, _original=original):  # type: ignore[no-untyped-def]
            stored["bytes"] += len(raw_data)
            return _original(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Big")
    big = b"x" * (3 * 1024 * 1024)
    res = api_as(org.agent).post(
        f"/api/v1/incidents/{inc.key}/attachments/",
        {"file": SimpleUploadedFile("huge.log", big)},
        format="multipart",
    )
    assert res.status_code == 400, res.content
    assert "at most" in res.json()["detail"]
    page = client_for(org.agent).post(
        f"/attachments/add/itsm.incident/{inc.pk}/",
        {"file": SimpleUploadedFile("huge.log", big)},
    )
    assert page.status_code == 400
    assert "at most" in page.content.decode()
    assert stored["bytes"] < len(big)  # never stored whole
    assert not Attachment.objects.exists()


def test_issue11_numeric_filters_refuse_digits_int_cannot_read(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (no 500 on bad input): ``str.isdigit()`` accepts '²' but ``int()`` does
    not, so an id filter guarded by it answered 500; the board's assignee and iteration
    filters, ticket searches by key and the plan form now treat it as matching nothing."""
    from projects import services as ps
    from tests.conftest import api_as

    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    c = Client(raise_request_exception=False)
    c.force_login(org.developer)
    for query in ("iteration=²", "assignee=²"):
        assert c.get(f"/projects/{project.code}/?{query}").status_code == 200, query
    assert c.post(f"/work/{item.key}/plan/", {"iteration": "²"}).status_code in (400, 404)
    api = api_as(org.admin)
    api.raise_request_exception = False
    for url in (
        "/api/v1/incidents/?q=INC-²",
        "/api/v1/problems/?q=PRB-²",
        "/api/v1/defects/?incident=INC-²",
        "/api/v1/emergency-decisions/?change=CHG-²",
    ):
        assert api.get(url).status_code == 200, url


def test_issue11_iteration_is_a_bounded_time_box(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (iterations, no runaway cost on bad input): an iteration from year 1 to
    9999 was accepted, and its page (which walks every day for the burndown and the
    capacity) then took minutes; create and edit refuse a span over a quarter with 400."""
    from projects.iterations import MAX_ITERATION_DAYS
    from projects.models import Iteration
    from tests.conftest import api_as

    api = api_as(org.admin)
    body = {"project": project.code, "name": "forever", "start": "2026-12-01"}
    res = api.post("/api/v1/iterations/", {**body, "end": "9999-12-31"}, format="json")
    assert res.status_code == 400, res.content
    assert "at most" in res.json()["detail"]
    assert not Iteration.objects.exists()
    res = api.post("/api/v1/iterations/", {**body, "end": "2026-12-14"}, format="json")
    assert res.status_code == 201
    it = res.json()["id"]
    res = api.patch(f"/api/v1/iterations/{it}/", {"end": "2030-01-01"}, format="json")
    assert res.status_code == 400
    assert str(Iteration.objects.get(pk=it).end) == "2026-12-14"
    assert MAX_ITERATION_DAYS >= 28  # a four-week sprint fits


def test_issue11_iteration_name_race_is_a_409_not_a_500(org, project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (iterations, no 500): two planners creating the same iteration name at
    once both pass the name check; the second hits the unique constraint and answered
    500. It now answers 409 with the reason, and nothing half-written is left."""
    from core.models import AuditEvent
    from projects import iterations
    from projects.models import Iteration
    from tests.conftest import api_as

    body = {"project": project.code, "name": "S1", "start": "2026-12-01", "end": "2026-12-14"}
    api = api_as(org.admin)
    api.raise_request_exception = False
    assert api.post("/api/v1/iterations/", body, format="json").status_code == 201
    audits = AuditEvent.objects.count()
    # The other request checked the name before this one's row was committed.
    monkeypatch.setattr(iterations, "_check_name", lambda project, name, exclude=None: name)
    res = api.post("/api/v1/iterations/", body, format="json")
    assert res.status_code == 409, res.content
    assert Iteration.objects.count() == 1 and AuditEvent.objects.count() == audits
