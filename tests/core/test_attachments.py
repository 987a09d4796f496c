"""Issue 11 (attachments): files on incidents, problems, requests, changes, work items and
articles; limits and types from settings, names sanitised, stored outside the web root
through the storage API, served only after the record's permission check, audited."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import attachments
from core.attachments import attachment_add, sanitise_name, sniff_type
from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Attachment, AuditEvent
from itsm import services as itsm
from itsm.models import CatalogItem
from itsm.services import changes as cs
from itsm.services import problems as prs
from itsm.services import requests as rs
from knowledge import services as ks
from projects import services as ps
from projects.models import Project
from tests.conftest import api_as

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Each test stores in its own folder (the storage handler is reset with STORAGES)."""
    location = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def stored_files(location: Path) -> list[Path]:
    return [p for p in location.rglob("*") if p.is_file()] if location.exists() else []


def upload(name: str = "screen.png", data: bytes = PNG, content_type: str = "image/png"):  # type: ignore[no-untyped-def]
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p


@pytest.fixture
def incident(org):  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Payslip wrong")
    return itsm.incident_assign(incident=inc, actor=org.agent, team=org.desk, assignee=org.agent)


def records(org, project):  # type: ignore[no-untyped-def]
    """One record of each type with someone who works it: (API prefix, record, worker)."""
    problem = prs.problem_create(actor=org.problem_manager, title="Leak", service=org.service)
    change = cs.change_create(actor=org.change_manager, title="Patch", services=[org.service])
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    req = rs.request_submit(actor=org.requester, item=item, answers={})
    defect = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="d")
    enh = ps.work_item_create(actor=org.developer, kind="enhancement", project=project, title="e")
    article = ks.article_create(actor=org.developer, title="How to", body="Restart it.")
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Down")
    return [
        ("incidents", inc, org.incident_manager),
        ("problems", problem, org.problem_manager),
        ("changes", change, org.change_manager),
        ("requests", req, org.support2),
        ("defects", defect, org.developer),
        ("enhancements", enh, org.developer),
        ("articles", article, org.developer),
    ]


# --- API on every record type ---------------------------------------------------------
def test_issue11_attachments_on_every_record_type_through_the_api(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): upload, list, download and remove on incidents, problems,
    changes, requests, defects, enhancements and articles; each upload audited."""
    for prefix, record, worker in records(org, project):
        api = api_as(worker)
        base = f"/api/v1/{prefix}/{record.key}/attachments/"
        res = api.post(base, {"file": upload()}, format="multipart")
        assert res.status_code == 201, (prefix, res.content)
        body = res.json()
        assert body["name"] == "screen.png" and body["content_type"] == "image/png"
        assert body["size"] == len(PNG) and len(body["sha256"]) == 64
        assert body["uploaded_by"]["username"] == worker.username
        assert body["download_url"].endswith(f"{base}{body['id']}/download/")
        listed = api.get(base)
        assert listed.status_code == 200, listed.content
        assert [a["id"] for a in listed.json()["results"]] == [body["id"]]
        got = api.get(f"{base}{body['id']}/download/")
        assert got.status_code == 200
        assert b"".join(got.streaming_content) == PNG
        assert got["Content-Type"] == "image/png"
        assert got["Content-Disposition"].startswith("inline")
        assert got["X-Content-Type-Options"] == "nosniff"
        event = AuditEvent.objects.filter(action="attachment_added", object_id=record.pk).last()
        assert event is not None and event.comment.startswith("attached screen.png")
        assert event.actor == worker
        gone = api.delete(f"{base}{body['id']}/")
        assert gone.status_code == 204, gone.content
        assert api.get(base).json()["results"] == []
        assert AuditEvent.objects.filter(action="attachment_removed", object_id=record.pk).exists()


def test_issue11_requester_sees_public_files_only_and_not_other_requesters(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): a requester's files and staff files marked public are the
    requester's; internal files and another requester's incident are invisible (404)."""
    base = f"/api/v1/incidents/{incident.key}/attachments/"
    mine = api_as(org.requester).post(base, {"file": upload("error.png")}, format="multipart")
    assert mine.status_code == 201 and mine.json()["public"] is True
    agent = api_as(org.agent)
    internal = agent.post(
        base, {"file": upload("trace.txt", b"Traceback...\n")}, format="multipart"
    )
    assert internal.status_code == 201 and internal.json()["public"] is False
    shared = agent.post(
        base,
        {"file": upload("fix.pdf", PDF, "application/pdf"), "public": True},
        format="multipart",
    )
    assert shared.status_code == 201 and shared.json()["public"] is True

    requester = api_as(org.requester)
    names = [a["name"] for a in requester.get(base).json()["results"]]
    assert names == ["error.png", "fix.pdf"]
    hidden = requester.get(f"{base}{internal.json()['id']}/download/")
    assert hidden.status_code == 404
    assert Client().get(f"/attachments/{internal.json()['id']}/").status_code == 302  # login
    page = Client()
    page.force_login(org.requester)
    assert page.get(f"/attachments/{internal.json()['id']}/").status_code == 404
    assert page.get(f"/attachments/{mine.json()['id']}/").status_code == 200
    # The requester may not make an internal file.
    refused = requester.post(base, {"file": upload(), "public": False}, format="multipart")
    assert refused.status_code == 403
    # Another requester: the incident is invisible, and so is every file on it.
    other = api_as(org.requester2)
    assert other.get(base).status_code == 404
    assert other.get(f"{base}{mine.json()['id']}/download/").status_code == 404
    assert other.post(base, {"file": upload()}, format="multipart").status_code == 404
    page.force_login(org.requester2)
    assert page.get(f"/attachments/{mine.json()['id']}/").status_code == 404
    # Staff see all three.
    assert len(agent.get(base).json()["results"]) == 3


def test_issue11_staff_outside_the_ticket_cannot_attach(org, incident, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): attaching is the same right as replying / writing a note."""
    base = f"/api/v1/incidents/{incident.key}/attachments/"
    res = api_as(org.agent_other).post(base, {"file": upload()}, format="multipart")
    assert res.status_code == 403, res.content
    change = cs.change_create(actor=org.change_manager, title="Patch", services=[org.service])
    res = api_as(org.agent).post(
        f"/api/v1/changes/{change.key}/attachments/", {"file": upload()}, format="multipart"
    )
    assert res.status_code == 403
    assert not Attachment.objects.exists()


def test_issue11_remove_is_for_the_uploader_and_administrators(
    org, incident, attachment_dir, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): another worker may not remove a file; its uploader and an
    administrator may; the bytes go after commit."""
    base = f"/api/v1/incidents/{incident.key}/attachments/"
    att = api_as(org.agent).post(base, {"file": upload()}, format="multipart").json()
    assert api_as(org.incident_manager).delete(f"{base}{att['id']}/").status_code == 403
    assert len(stored_files(attachment_dir)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(org.admin).delete(f"{base}{att['id']}/").status_code == 204
    assert stored_files(attachment_dir) == []


# --- limits, types, names -------------------------------------------------------------
def test_issue11_limits_and_types_answer_400_and_store_nothing(
    org, incident, settings, attachment_dir
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): too large, empty, a type not allowed (sniffed from the
    bytes, whatever the client says) → 400 with a message; no row, no file."""
    settings.ATTACHMENT_MAX_BYTES = 1024
    api = api_as(org.agent)
    base = f"/api/v1/incidents/{incident.key}/attachments/"
    big = api.post(base, {"file": upload("big.png", PNG + b"\x00" * 2000)}, format="multipart")
    assert big.status_code == 400 and "at most 1.0 KB" in big.json()["detail"]
    empty = api.post(base, {"file": upload("e.txt", b"")}, format="multipart")
    assert empty.status_code == 400
    exe = api.post(
        base, {"file": upload("tool.png", b"MZ\x90\x00" + b"\x00" * 60)}, format="multipart"
    )
    assert exe.status_code == 400 and "not allowed" in exe.json()["detail"]
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    page = api.post(base, {"file": upload("x.png", html, "image/png")}, format="multipart")
    assert page.status_code == 400 and "text/html" in page.json()["detail"]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert api.post(base, {"file": upload("a.svg", svg)}, format="multipart").status_code == 400
    missing = api.post(base, {}, format="multipart")
    assert missing.status_code == 400
    assert not Attachment.objects.exists()
    assert stored_files(attachment_dir) == []
    assert not AuditEvent.objects.filter(action="attachment_added").exists()


def test_issue11_type_is_sniffed_not_trusted(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): the stored type is what the bytes are."""
    att = attachment_add(
        target=incident, actor=org.agent, file=upload("report.pdf", PNG, "application/pdf")
    )
    assert att.mime_type == "image/png"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert sniff_type(buf.getvalue(), "notes.docx").endswith("wordprocessingml.document")
    assert sniff_type(buf.getvalue(), "logs.zip") == "application/zip"
    assert sniff_type(b"a,b\n1,2\n", "data.csv") == "text/csv"
    assert sniff_type(b"2026-11-25 ERROR boom <html> in a log line\n", "app.log") == "text/plain"
    assert sniff_type("caf\u00e9".encode()[:4], "x.txt") == "text/plain"  # cut mid-character
    assert sniff_type(b"\x00\x01\x02", "x.txt") == "application/octet-stream"


@pytest.mark.parametrize(
    "raw,safe",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\report.pdf", "report.pdf"),
        ("..hidden.txt", "hidden.txt"),
        ("bad\x00name\r\n.txt", "bad name .txt"),
        ("evil\u202egnp.exe", "evil gnp.exe"),
        ('a<b>c:"d|e?f*.log', "abcdef.log"),
        ("", "file"),
        ("...", "file"),
        ("x" * 300 + ".png", "x" * 116 + ".png"),
    ],
)
def test_issue11_file_names_are_sanitised(raw: str, safe: str) -> None:
    """Issue 11 (attachments): no path parts, no control characters, bounded length."""
    assert sanitise_name(raw) == safe
    assert len(sanitise_name(raw)) <= 120


def test_issue11_stored_under_a_random_path_outside_the_web_root(
    org, incident, attachment_dir
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): ``attachments/<yyyy>/<mm>/<uuid>/<name>`` in the attachments
    storage, which is not STATIC_ROOT, a static folder or MEDIA; the web server's static
    and media routes do not serve it."""
    att = attachment_add(target=incident, actor=org.agent, file=upload("../shot.png"))
    parts = att.path.split("/")
    assert parts[0] == "attachments" and len(parts[3]) == 32 and parts[4] == "shot.png"
    assert (attachment_dir / att.path).is_file()
    default = Path(django_settings.ATTACHMENTS_DIR).resolve()
    web_roots = [Path(django_settings.STATIC_ROOT), *map(Path, django_settings.STATICFILES_DIRS)]
    media = getattr(django_settings, "MEDIA_ROOT", "")
    if media:
        web_roots.append(Path(media))
    for root in web_roots:
        assert not default.is_relative_to(root.resolve())
    assert default.is_relative_to(Path(django_settings.DATA_DIR).resolve())
    client = Client()
    client.force_login(org.agent)
    for prefix in ("/static/", "/media/", "/"):
        assert client.get(prefix + att.path).status_code == 404


def test_issue11_s3_storage_by_configuration() -> None:
    """Issue 11 (attachments): ``ATTACHMENTS_S3_BUCKET`` switches the storage to
    django-storages' S3 backend (private objects); without it, a folder; and a bucket
    without django-storages installed stops the start with a clear message."""
    import environ

    from config.storage import attachment_storage

    with mock.patch.dict(
        os.environ,
        {
            "ATTACHMENTS_S3_BUCKET": "tandem-files",
            "ATTACHMENTS_S3_ENDPOINT_URL": "http://minio:9000",
        },
    ):
        s3 = attachment_storage(environ.Env(), "/data/attachments")
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "tandem-files"
    assert s3["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert s3["OPTIONS"]["default_acl"] == "private"
    assert s3["OPTIONS"]["file_overwrite"] is False
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("ATTACHMENTS_S3_BUCKET", None)
        os.environ.pop("ATTACHMENTS_DIR", None)
        local = attachment_storage(environ.Env(), "/data/attachments")
    assert local == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": "/data/attachments"},
    }
    try:
        import storages  # noqa: F401
    except ImportError:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        res = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "ATTACHMENTS_S3_BUCKET": "b"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode != 0 and "needs django-storages" in res.stderr


# --- transaction, audit, query count ---------------------------------------------------
def test_issue11_failed_upload_leaves_no_row_and_no_file(org, incident, attachment_dir) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): when the transaction fails after the bytes were stored,
    the row rolls back and the file is deleted."""
    with (
        mock.patch("core.attachments.audit_record", side_effect=RuntimeError("db gone")),
        pytest.raises(RuntimeError),
    ):
        attachment_add(target=incident, actor=org.agent, file=upload())
    assert not Attachment.objects.exists()
    assert stored_files(attachment_dir) == []


def test_issue11_service_checks_and_audits(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): the service is the guard, whichever surface calls it."""
    with pytest.raises(ActionForbidden):
        attachment_add(target=incident, actor=org.requester2, file=upload())
    with pytest.raises(ValidationFailed):
        attachment_add(target=incident, actor=org.agent, file=upload("a.exe", b"MZ" + PNG))
    att = attachment_add(target=incident, actor=org.agent, file=upload(), public=True)
    event = AuditEvent.objects.get(action="attachment_added")
    assert event.changes == {"attachment": [None, "screen.png"]}
    assert event.comment == "attached screen.png"
    assert att.public is True
    # The requester's timeline does not show how support attached its working files.
    requester_actions = {
        e["action"]
        for e in api_as(org.requester)
        .get(f"/api/v1/incidents/{incident.key}/history/")
        .json()["results"]
    }
    assert "attachment_added" not in requester_actions


def test_issue11_list_query_count_does_not_grow(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): listing 1 or 6 files costs the same queries."""
    api = api_as(org.agent)
    base = f"/api/v1/incidents/{incident.key}/attachments/"
    attachment_add(target=incident, actor=org.agent, file=upload())
    api.get(base)  # warm caches (content types, roles)
    with CaptureQueriesContext(connection) as one:
        assert len(api.get(base).json()["results"]) == 1
    for user in (org.agent, org.requester, org.incident_manager, org.agent, org.requester):
        attachment_add(target=incident, actor=user, file=upload())
    with CaptureQueriesContext(connection) as six:
        assert len(api.get(base).json()["results"]) == 6
    assert len(six.captured_queries) == len(one.captured_queries)
    assert len(one.captured_queries) <= 12, [q["sql"] for q in one.captured_queries]


# --- serving ---------------------------------------------------------------------------
def test_issue11_downloads_are_attachments_and_never_rendered(org, incident, settings) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): only raster images are inline; a PDF or text is a download;
    markup let through by settings is still served as an opaque download."""
    settings.ATTACHMENT_ALLOWED_TYPES = [*settings.ATTACHMENT_ALLOWED_TYPES, "text/html"]
    client = Client()
    client.force_login(org.agent)
    pdf = attachment_add(target=incident, actor=org.agent, file=upload("a.pdf", PDF))
    html = attachment_add(
        target=incident, actor=org.agent, file=upload("a.html", b"<html><script>x</script>")
    )
    png = attachment_add(target=incident, actor=org.agent, file=upload())
    res = client.get(f"/attachments/{pdf.pk}/")
    assert (
        res["Content-Disposition"].startswith("attachment")
        and 'filename="a.pdf"' in res["Content-Disposition"]
    )
    assert res["Content-Type"] == "application/pdf"
    res = client.get(f"/attachments/{html.pk}/")
    assert res["Content-Type"] == "application/octet-stream"
    assert res["Content-Disposition"].startswith("attachment")
    assert "sandbox" in res["Content-Security-Policy"]
    res = client.get(f"/attachments/{png.pk}/")
    assert res["Content-Disposition"].startswith("inline")
    res = client.get(f"/attachments/{png.pk}/?download=1")
    assert res["Content-Disposition"].startswith("attachment")


def test_issue11_article_files_follow_the_article(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): a requester reads a published public article's public
    files, not its internal ones, and nothing of an internal article."""
    article = ks.article_create(
        actor=org.developer, title="Reset a password", body="Steps.", audience="public"
    )
    shot = attachment_add(target=article, actor=org.developer, file=upload())
    assert shot.public is True  # an article's files are for its readers by default
    note = attachment_add(
        target=article, actor=org.developer, file=upload("n.txt", b"x"), public=False
    )
    ks.article_transition(article=article, actor=org.developer, name="publish")
    requester = api_as(org.requester)
    base = f"/api/v1/articles/{article.key}/attachments/"
    assert [a["id"] for a in requester.get(base).json()["results"]] == [shot.pk]
    assert requester.get(f"{base}{note.pk}/download/").status_code == 404
    assert requester.post(base, {"file": upload()}, format="multipart").status_code == 403
    internal = ks.article_create(actor=org.developer, title="Runbook", body="Internal.")
    attachment_add(target=internal, actor=org.developer, file=upload())
    assert requester.get(f"/api/v1/articles/{internal.key}/attachments/").status_code == 404


# --- pages -----------------------------------------------------------------------------
def test_issue11_pages_show_the_panel_and_upload(org, incident, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): each record page has the Attachments panel; the upload
    form only for who may attach; the page upload and removal go through the service."""
    client = Client()
    client.force_login(org.agent)
    page = client.get(incident.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="attachments"' in html and 'enctype="multipart/form-data"' in html
    url = f"/attachments/add/itsm.incident/{incident.pk}/"
    res = client.post(url, {"file": upload(), "public": "0", "next": incident.get_absolute_url()})
    assert res.status_code == 302 and res["Location"] == incident.get_absolute_url()
    att = Attachment.objects.get()
    assert att.public is False and att.uploaded_by == org.agent
    html = client.get(incident.get_absolute_url()).content.decode()
    assert f'<img src="/attachments/{att.pk}/"' in html and "screen.png" in html
    # The requester: no internal file on their page; the upload form (public) is theirs.
    requester = Client()
    requester.force_login(org.requester)
    html = requester.get(incident.get_absolute_url()).content.decode()
    assert 'id="attachments"' in html and "screen.png" not in html
    assert 'enctype="multipart/form-data"' in html and 'name="public"' not in html
    # Staff outside the ticket: the panel, no form; a forged post is refused.
    outsider = Client()
    outsider.force_login(org.agent_other)
    html = outsider.get(incident.get_absolute_url()).content.decode()
    assert 'id="attachments"' in html and 'enctype="multipart/form-data"' not in html
    assert outsider.post(url, {"file": upload()}).status_code == 403
    bad = client.post(url, {"file": upload("x.exe", b"MZ" + PNG)})
    assert bad.status_code == 400 and "not allowed" in bad.content.decode()
    assert client.post(f"/attachments/{att.pk}/delete/").status_code == 302
    assert not Attachment.objects.exists()
    # Every other record page renders the panel.
    for _prefix, record, worker in records(org, project):
        c = Client()
        c.force_login(worker)
        attachment_add(target=record, actor=worker, file=upload("shot.png"))
        res = c.get(record.get_absolute_url())
        assert res.status_code == 200, record
        body = res.content.decode()
        assert 'id="attachments"' in body and "shot.png" in body, record
        assert 'enctype="multipart/form-data"' in body, record


def test_issue11_schema_documents_attachments(db) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): the multipart upload and the binary download are in the
    schema of every record type."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for plural in (
        "incidents",
        "problems",
        "requests",
        "changes",
        "defects",
        "enhancements",
        "articles",
    ):
        post = schema["paths"][f"/api/v1/{plural}/{{id}}/attachments/"]["post"]
        assert "multipart/form-data" in post["requestBody"]["content"]
        dl = schema["paths"][f"/api/v1/{plural}/{{id}}/attachments/{{att_id}}/download/"]["get"]
        assert "application/octet-stream" in dl["responses"]["200"]["content"]


def test_issue11_registry_names_every_record_type() -> None:
    """Issue 11 (attachments): each record type is registered, nothing else is."""
    labels = {m._meta.label_lower for m in attachments._attachables}
    assert labels == {
        "itsm.incident",
        "itsm.problem",
        "itsm.servicerequest",
        "itsm.change",
        "projects.workitem",
        "knowledge.article",
    }
    assert storages["attachments"] is not None


def test_issue11_admin_lists_attachments_read_only(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): Django admin lists files; writes go through the service."""
    from django.contrib.auth import get_user_model

    attachment_add(target=incident, actor=org.agent, file=upload())
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client = Client()
    client.force_login(superuser)
    res = client.get("/admin/core/attachment/")
    assert res.status_code == 200 and "screen.png" in res.content.decode()
    assert client.get("/admin/core/attachment/add/").status_code == 403


def test_issue11_production_keeps_attachments_on_a_volume() -> None:
    """Issue 11 (attachments): in docker-compose.yml the web container (the one process
    that writes files) stores them on a named volume, not in the container."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "attachments:/app/var/attachments" in compose["services"]["web"]["volumes"]
    assert "attachments" in compose["volumes"]
    assert "ATTACHMENTS_S3_BUCKET" in compose["services"]["web"]["environment"]


def test_issue11_page_panel_query_count_does_not_grow(org, incident) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 (attachments): the record page costs the same with 1 or 6 files (each
    with its Remove button decided)."""
    client = Client()
    client.force_login(org.agent)
    attachment_add(target=incident, actor=org.agent, file=upload())
    client.get(incident.get_absolute_url())
    with CaptureQueriesContext(connection) as one:
        client.get(incident.get_absolute_url())
    for _ in range(5):
        attachment_add(target=incident, actor=org.agent, file=upload())
    with CaptureQueriesContext(connection) as six:
        html = client.get(incident.get_absolute_url()).content.decode()
    assert html.count(">Remove</button>") == 6
    assert len(six.captured_queries) == len(one.captured_queries), [
        q["sql"] for q in six.captured_queries
    ]
