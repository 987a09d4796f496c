"""Issue 15, e-mail out: every notice has a plain-text and an HTML part from the templates,
threads per ticket, answers to the support mailbox, and a non-essential one carries a
signed one-click unsubscribe link."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db.models import Value
from django.db.models.fields.json import KT
from django.db.models.lookups import Exact

from core import mailout
from core.models import NotificationFamily, NotificationPreference, OutboxMessage
from itsm import services

pytestmark = pytest.mark.django_db


def _parts(row):  # type: ignore[no-untyped-def]
    """What the e-mail's two parts will be when it is sent (rendered then, not stored)."""
    return mailout.message_parts(row)


@pytest.fixture(autouse=True)
def _mail_settings(settings):  # type: ignore[no-untyped-def]
    settings.MAIL_DOMAIN = "tandem.test"
    settings.MAIL_SUPPORT_ADDRESS = "support@tandem.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _row(event: str) -> OutboxMessage:
    return OutboxMessage.objects.filter(event=event).latest("id")


def test_a_ticket_notice_is_rendered_threaded_and_answers_to_the_support_mailbox(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_create(
            actor=org.requester, service=org.service, title="Payslip <b>wrong</b>"
        )
    row = _row("incident.created")
    payload = row.payload
    root = f"<tandem.incident.{incident.pk}@tandem.test>"
    assert re.fullmatch(rf"<[0-9a-f]{{32}}\.{incident.key}@tandem\.test>", payload["message_id"])
    assert payload["thread"] == root
    headers = payload["headers"]
    assert headers["Message-ID"] == payload["message_id"]
    assert headers["In-Reply-To"] == root and headers["References"] == root
    assert headers["Auto-Submitted"] == "auto-generated"
    # the requester's own ticket is an essential notice: no unsubscribe
    assert "List-Unsubscribe" not in headers
    assert payload["reply_to"] == ["support@tandem.test"]
    # the body the service wrote stays the content; the parts wrap it
    assert row.body.startswith(f"Your incident {incident.key} was logged")
    assert _parts(row)[0].startswith(mailout.REPLY_MARKER)
    assert row.body in _parts(row)[0]
    assert "You get this e-mail because it is about a ticket you raised" in _parts(row)[0]
    assert "Payslip &lt;b&gt;wrong&lt;/b&gt;" in _parts(row)[1]  # escaped in HTML
    assert f"http://tandem.test{incident.get_absolute_url()}" in _parts(row)[1]
    assert f"[{incident.key}]" in row.subject

    [sent] = mail.outbox
    assert sent.body == _parts(row)[0]
    assert sent.alternatives[0][1] == "text/html"
    message = sent.message()
    assert message["Message-ID"] == payload["message_id"]
    assert message["In-Reply-To"] == root
    assert message["Reply-To"] == "support@tandem.test"

    # Tandem finds the record a Message-ID it sent is about (the index of the payload key)
    found = OutboxMessage.objects.filter(
        Exact(KT("payload__message_id"), Value(payload["message_id"])), channel="email"
    ).get()
    assert found.object_id == incident.pk
    assert mailout.parse_thread_root(root) == ("incident", incident.pk)
    assert mailout.parse_thread_root("<tandem.incident.1@elsewhere.test>") is None


def test_each_mail_has_its_own_message_id(org) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(actor=org.requester, service=org.service, title="A")
    services.incident_assign(
        incident=incident, actor=org.incident_manager, team=org.desk, assignee=org.agent
    )
    ids = [m.payload["message_id"] for m in OutboxMessage.objects.all()]
    assert len(ids) >= 2 and len(set(ids)) == len(ids)
    roots = {m.payload["thread"] for m in OutboxMessage.objects.all()}
    assert roots == {f"<tandem.incident.{incident.pk}@tandem.test>"}


def test_a_non_essential_notice_unsubscribes_in_one_click_without_sign_in(org, client) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(actor=org.requester, service=org.service, title="A")
    services.incident_assign(
        incident=incident, actor=org.incident_manager, team=org.desk, assignee=org.agent
    )
    row = _row("incident.assigned")
    assert row.recipients == [org.agent.email]
    headers = row.payload["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    assert url in _parts(row)[0] and url in _parts(row)[1]
    path = url.removeprefix("http://tandem.test")

    # a GET (a link scanner) only asks
    page = client.get(path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert not NotificationPreference.objects.filter(user=org.agent).exists()
    # the mail client's RFC 8058 one-click POST, with no session and no CSRF token
    client.handler.enforce_csrf_checks = True
    answer = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert (
        NotificationPreference.objects.get(user=org.agent, family=NotificationFamily.ASSIGNED).email
        is False
    )
    # and the next such notice is not e-mailed (still in the app)
    services.incident_assign(incident=incident, actor=org.incident_manager, team=org.support)
    services.incident_assign(
        incident=incident, actor=org.incident_manager, team=org.desk, assignee=org.agent
    )
    assert not OutboxMessage.objects.filter(
        event="incident.assigned", recipients=[org.agent.email], pk__gt=row.pk
    ).exists()


def test_a_changed_unsubscribe_link_is_a_400_and_changes_nothing(org, client) -> None:  # type: ignore[no-untyped-def]
    token = mailout.unsubscribe_token(org.agent.pk, NotificationFamily.WATCHED)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(f"/notifications/unsubscribe/{forged}/").status_code == 400
    assert client.get("/notifications/unsubscribe/nonsense/").status_code == 400
    assert not NotificationPreference.objects.exists()


def test_a_team_list_gets_no_unsubscribe_link(org) -> None:  # type: ignore[no-untyped-def]
    """A distribution list is nobody's preference: its mail says why, without the link."""
    org.support.email = "app-support@example.test"
    org.support.save()
    incident = services.incident_create(actor=org.requester, service=org.service, title="A")
    services.incident_assign(incident=incident, actor=org.incident_manager, team=org.support)
    row = _row("incident.assigned")
    assert row.recipients == ["app-support@example.test"]
    assert "List-Unsubscribe" not in row.payload["headers"]
    assert "Stop e-mails" not in _parts(row)[0]


def test_extra_headers_are_kept(org) -> None:  # type: ignore[no-untyped-def]
    from core.services import outbox_email

    row = outbox_email(
        event="mail.rejected",
        recipients=["someone@example.test"],
        subject="We could not take your mail",
        body="Sorry.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert row is not None
    assert row.payload["headers"]["Auto-Submitted"] == "auto-replied"
    assert "In-Reply-To" not in row.payload["headers"]
    assert "reply_to" not in row.payload


def test_the_batch_paths_build_the_same_mail(org) -> None:  # type: ignore[no-untyped-def]
    """``outbox_emails`` (watchers) and ``outbox_email_many`` (the SLA sweep) too."""
    from core.services import OutboxEmail, outbox_email_many, outbox_emails

    incident = services.incident_create(actor=org.requester, service=org.service, title="A")
    [watched] = outbox_emails(
        event="incident.commented",
        messages=[(org.agent.email, "Dana replied", "Hello")],
        target=incident,
    )
    assert watched.subject == f"[{incident.key}] Dana replied"
    assert watched.payload["headers"]["List-Unsubscribe"].startswith("<http://tandem.test/")
    assert watched.payload["thread"] == f"<tandem.incident.{incident.pk}@tandem.test>"
    [breach, none] = outbox_email_many(
        emails=[
            OutboxEmail("incident.sla_breached", [org.agent.email], "Breached", "Late", incident),
            OutboxEmail("incident.sla_breached", [], "Breached", "Late", incident),
        ]
    )
    assert none is None
    assert _parts(breach)[0].startswith(mailout.REPLY_MARKER)
    assert "List-Unsubscribe" in breach.payload["headers"]
    assert breach.payload["message_id"] != watched.payload["message_id"]


def test_email_url_sets_the_smtp_settings() -> None:
    """Production sending from one variable (``EMAIL_URL``), read when settings load."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, "
        "s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.MAIL_DOMAIN, s.MAIL_SUPPORT_ADDRESS)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EMAIL_URL": "smtp+tls://mailer:p%40ss@smtp.example.test:587",
        "DEFAULT_FROM_EMAIL": "Tandem <tandem@desk.example.test>",
    }
    env.pop("MAIL_DOMAIN", None)
    env.pop("MAIL_SUPPORT_ADDRESS", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.test",
        "587",
        "mailer",
        "p@ss",
        "True",
        "desk.example.test",
        "support@desk.example.test",
    ]
