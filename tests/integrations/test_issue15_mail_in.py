"""Issue 15, e-mail in: a Maildir of real-looking messages (tests/integrations/mail/) read
by ``mail_fetch``. "A mail to the support mailbox becomes an incident, the reply to its
notification becomes a comment on it, and an auto-reply is ignored"; each mail once,
even when the fetch is interrupted; unknown senders either way; the request alias; the
IMAP adapter against a stub of imap-tools' MailBox."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from core import mailout
from core.attachments import attachments_of
from core.models import Comment, OutboxMessage
from integrations.mail import receive
from integrations.mail.message import html_to_text, mail_parse
from integrations.mail.sources import ImapSource, MailboxConfig
from integrations.models import InboundMail
from itsm import services
from itsm.models import CatalogItem, Incident, ServiceRequest
from tests.integrations.conftest import mail_addresses

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "mail"
Outcome = InboundMail.Outcome


@pytest.fixture(autouse=True)
def mail_settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    mail_addresses(settings)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MAIL_MAILBOXES = [
        {
            "name": "support",
            "maildir": str(tmp_path / "support"),
            "request_alias": "requests@tandem.test",
            # the fixtures carry the Authentication-Results of this MTA, as delivered
            "authserv_id": "mx.tandem.test",
        }
    ]
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }
    return tmp_path / "support"


def drop(maildir: Path, name: str, **fill: str) -> Path:
    """Deliver a fixture into the Maildir's new/ (a template's {{NAME}}s filled in)."""
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    source = FIXTURES / name
    target = maildir / "new" / source.name.removesuffix(".tmpl")
    if fill:
        text = source.read_text()
        for key, value in fill.items():
            text = text.replace("{{" + key + "}}", value)
        target.write_text(text)
    else:
        shutil.copy(source, target)
    return target


def fetch(capture: Any) -> receive.FetchReport:
    with capture(execute=True):  # the mailbox marks a mail done after commit
        return receive.mail_fetch()


def waiting(maildir: Path) -> list[str]:
    return sorted(p.name for p in (maildir / "new").iterdir())


def test_a_mail_becomes_an_incident_its_notice_reply_a_comment_and_an_auto_reply_nothing(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    maildir = mail_settings
    drop(maildir, "new_outlook.eml")
    report = fetch(django_capture_on_commit_callbacks)
    assert report.outcomes == {"created": 1}

    incident = Incident.objects.get()
    assert incident.requester == org.requester  # From: Requester@Example.TEST
    assert incident.title == "Payslip for March shows the wrong tax code"
    assert "tax code BR instead of 1257L" in incident.description
    assert incident.service == org.service
    assert sorted(a.name for a in attachments_of(incident)) == [
        "payslip-march.pdf",
        "portal-screenshot.png",
    ]
    assert {a.mime_type for a in attachments_of(incident)} == {"application/pdf", "image/png"}
    row = InboundMail.objects.get()
    assert (row.outcome, row.record, row.user) == (Outcome.CREATED, incident, org.requester)
    assert waiting(maildir) == []  # marked done (moved to cur/ with the Seen flag)
    assert [p.name.endswith(":2,S") for p in (maildir / "cur").iterdir()] == [True]

    # the agent answers; the requester's notice is an actual outbox row with its Message-ID
    services.incident_assign(incident=incident, actor=org.agent, team=org.desk, assignee=org.agent)
    services.incident_comment(
        incident=incident, actor=org.agent, body="Please restart the app and look again."
    )
    notice = OutboxMessage.objects.filter(event="incident.reply").get()
    message_id = notice.payload["message_id"]
    drop(
        maildir,
        "reply_gmail.eml.tmpl",
        IN_REPLY_TO=message_id,
        REFERENCES=f"{notice.payload['thread']} {message_id}",
        SUBJECT=notice.subject,
        MARKER=mailout.message_parts(notice)[0].splitlines()[0],
    )
    drop(maildir, "autoreply_outlook.eml.tmpl", IN_REPLY_TO=message_id, SUBJECT=notice.subject)
    report = fetch(django_capture_on_commit_callbacks)
    assert report.outcomes == {"commented": 1, "ignored": 1}

    reply = Comment.objects.filter(author=org.requester).get()
    assert reply.public and reply.object_id == incident.pk
    # quoted history, Tandem's marker and the signature are gone
    assert reply.body.startswith("I restarted the app as you said")
    assert "Please restart the app" not in reply.body
    assert "Please type your reply" not in reply.body
    assert "wrote:" not in reply.body
    assert "fixed.png" in {a.name for a in attachments_of(incident)}  # the inline image
    auto = InboundMail.objects.get(outcome=Outcome.IGNORED)
    assert auto.reason == "auto-reply (Auto-Submitted: auto-replied)"
    assert Comment.objects.filter(object_id=incident.pk).count() == 2  # agent's and Ruth's
    assert waiting(maildir) == []


def test_a_reply_found_by_the_key_in_its_subject(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(
        actor=org.requester, service=org.service, title="Payslip wrong"
    )
    drop(mail_settings, "reply_outlook_by_subject.eml.tmpl", KEY=incident.key)
    fetch(django_capture_on_commit_callbacks)
    row = InboundMail.objects.get()
    assert (row.outcome, row.record) == (Outcome.COMMENTED, incident)
    assert row.comment.body == "It is wrong again on the April payslip, sorry."


def test_a_bounce_and_tandems_own_mail_are_ignored(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    drop(mail_settings, "bounce.eml")
    own = (FIXTURES / "unknown_sender.eml").read_text()
    own = own.replace(
        "<5f1c0e2a-7d41-4b77-9c1e-0a3c2b8f7d61@partner.example>",
        "<0123456789abcdef0123456789abcdef.INC-1001@tandem.test>",
    )
    (mail_settings / "new" / "looped.eml").write_text(own)
    fetch(django_capture_on_commit_callbacks)
    reasons = dict(InboundMail.objects.values_list("sender", "reason"))
    assert reasons["mailer-daemon@mx.tandem.test"].startswith("auto-reply")
    assert reasons["kim@partner.example"].startswith("loop (Tandem's own Message-ID")
    assert not Incident.objects.exists()
    assert not OutboxMessage.objects.exists()  # nobody is answered


def test_each_mail_is_processed_once_however_often_it_is_fetched(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    path = drop(mail_settings, "new_outlook.eml")
    raw = path.read_bytes()
    # processed, committed, but the fetch died before it marked the mail in the mailbox
    [config] = receive.mailboxes()
    row, fresh = receive.mail_receive(mailbox=config, raw=raw)
    assert fresh and row.outcome == Outcome.CREATED
    assert waiting(mail_settings) == ["new_outlook.eml"]
    report = fetch(django_capture_on_commit_callbacks)
    assert (report.processed, report.already) == (0, 1)
    assert waiting(mail_settings) == []
    # the same mail delivered again (a second mailbox, a copy)
    drop(mail_settings, "new_outlook.eml")
    report = fetch(django_capture_on_commit_callbacks)
    assert (report.processed, report.already) == (0, 1)
    assert Incident.objects.count() == 1 and InboundMail.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_fetches_of_one_mail_at_once_make_one_incident(org, mail_settings) -> None:  # type: ignore[no-untyped-def]
    """Two workers read the same mail at the same moment: the second waits on the first's
    uncommitted InboundMail row, then finds it (no second incident, no error)."""
    raw = (FIXTURES / "new_outlook.eml").read_bytes()
    [config] = receive.mailboxes()
    start = threading.Barrier(2)
    fresh: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            fresh.append(receive.mail_receive(mailbox=config, raw=raw)[1])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(fresh) == [False, True]
    assert Incident.objects.count() == 1 and InboundMail.objects.count() == 1


def test_a_fetch_interrupted_before_commit_leaves_the_mail_for_the_next(
    org, mail_settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    drop(mail_settings, "new_outlook.eml")
    drop(mail_settings, "request_alias.eml")
    real = receive._attach
    calls = {"n": 0}

    def dies_once(record, user, mail):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the storage went away")
        return real(record, user, mail)

    monkeypatch.setattr(receive, "_attach", dies_once)
    CatalogItem.objects.create(name="New laptop", service=org.service, fulfilment_team=org.support)
    report = fetch(django_capture_on_commit_callbacks)
    assert (report.processed, report.failed) == (1, 1)
    # the failed mail wrote nothing and waits in the mailbox; the other one went on
    assert not Incident.objects.exists()
    assert waiting(mail_settings) == ["new_outlook.eml"]
    report = fetch(django_capture_on_commit_callbacks)
    assert (report.processed, report.failed) == (1, 0)
    assert Incident.objects.count() == 1
    assert waiting(mail_settings) == []


def test_a_mail_without_message_id_is_known_by_its_bytes(org, mail_settings) -> None:  # type: ignore[no-untyped-def]
    raw = (FIXTURES / "unknown_sender.eml").read_bytes()
    raw = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Message-ID"))
    [config] = receive.mailboxes()
    first, fresh = receive.mail_receive(mailbox=config, raw=raw)
    assert fresh and first.message_id.startswith("sha256:")
    again, fresh = receive.mail_receive(mailbox=config, raw=raw)
    assert not fresh and again.pk == first.pk


def test_an_unknown_sender_is_answered_politely_once(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    drop(mail_settings, "unknown_sender.eml")
    fetch(django_capture_on_commit_callbacks)
    row = InboundMail.objects.get()
    assert row.outcome == Outcome.REJECTED
    assert row.reason == "unknown sender; a polite reply was sent"
    polite = OutboxMessage.objects.get(event="mail.rejected")
    assert polite.recipients == ["kim@partner.example"]
    assert polite.payload["headers"]["Auto-Submitted"] == "auto-replied"
    assert polite.payload["headers"]["In-Reply-To"] == (
        "<5f1c0e2a-7d41-4b77-9c1e-0a3c2b8f7d61@partner.example>"
    )
    assert "List-Unsubscribe" not in polite.payload["headers"]
    # a second mail the same day is not answered again (no backscatter)
    again = (FIXTURES / "unknown_sender.eml").read_text().replace("5f1c0e2a", "6a2d1f3b")
    (mail_settings / "new" / "again.eml").write_text(again)
    fetch(django_capture_on_commit_callbacks)
    assert OutboxMessage.objects.filter(event="mail.rejected").count() == 1
    assert not Incident.objects.exists()


def test_an_unknown_sender_becomes_a_requester_when_so_set(
    org, settings, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from core.roles import Role, role_names

    settings.MAIL_UNKNOWN_SENDER = "create"
    drop(mail_settings, "unknown_sender.eml")
    fetch(django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    kim = incident.requester
    assert (kim.email, kim.username, kim.first_name) == ("kim@partner.example", "kim", "Kim")
    assert not kim.has_usable_password()
    assert Role.REQUESTER.value in role_names(kim)
    assert InboundMail.objects.get().user == kim


def test_a_mail_to_the_request_alias_orders_the_catalogue_item(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="New laptop", service=org.service, fulfilment_team=org.support
    )
    drop(mail_settings, "request_alias.eml")
    fetch(django_capture_on_commit_callbacks)
    req = ServiceRequest.objects.get()
    assert (req.item, req.requester) == (item, org.requester)
    first = Comment.objects.get(object_id=req.pk, author=org.requester)
    # HTML-only mail made text: no script, no style, the link kept as text
    assert "needs a laptop" in first.body and "4 January" in first.body
    assert "alert" not in first.body and "color:red" not in first.body
    assert "(https://intranet.example.test/people/ruth)" in first.body
    assert not Incident.objects.exists()


def test_someone_who_may_not_reply_is_refused_and_logged(
    org, mail_settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(
        actor=org.requester2, service=org.service, title="Not Ruth's"
    )
    drop(mail_settings, "reply_outlook_by_subject.eml.tmpl", KEY=incident.key)
    fetch(django_capture_on_commit_callbacks)
    row = InboundMail.objects.get()
    assert row.outcome == Outcome.REJECTED and row.reason.startswith("ActionForbidden")
    assert not Comment.objects.exists()
    assert waiting(mail_settings) == []  # decided: not tried again


def test_the_management_command_reads_the_mailboxes(org, mail_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    drop(mail_settings, "new_outlook.eml")
    call_command("mail_fetch")
    assert "1 mail processed (created 1)" in capsys.readouterr().out
    assert Incident.objects.count() == 1


def test_html_to_text_keeps_text_only() -> None:
    text = html_to_text(
        "<html><head><title>x</title><style>p{}</style></head><body><p>One&amp;two</p>"
        "<script>evil()</script><ul><li>a</li><li>b</li></ul><a href='javascript:x'>c</a>"
        "</body></html>"
    )
    assert text == "One&two\n\n- a\n- b\nc"


def test_the_parser_reads_references_newest_first() -> None:
    mail = mail_parse(
        b"From: a@example.test\nMessage-ID: <m@x>\nIn-Reply-To: <c@x>\n"
        b"References: <a@x> <b@x> <c@x>\nSubject: Re: [INC-1042] hi\n\nbody\n"
    )
    assert mail.references == ["<c@x>", "<b@x>", "<a@x>"]
    assert mail.ticket_in_subject() == ("incident", 1042)


# --- IMAP: the adapter against a stub of imap-tools' MailBox -----------------------------------
class StubMessage:
    def __init__(self, uid: str, raw: bytes) -> None:
        from imap_tools import MailMessage

        self.uid = uid
        self.obj = MailMessage.from_bytes(raw).obj


class StubMailBox:
    """What ImapSource uses of imap_tools.MailBox: login/xoauth2, fetch, flag, move,
    logout; records the calls."""

    def __init__(self, messages: list[StubMessage]) -> None:
        self.messages = messages
        self.calls: list[tuple[Any, ...]] = []

    def login(self, user: str, password: str, initial_folder: str = "INBOX") -> StubMailBox:
        self.calls.append(("login", user, password, initial_folder))
        return self

    def xoauth2(self, user: str, token: str, initial_folder: str = "INBOX") -> StubMailBox:
        self.calls.append(("xoauth2", user, token, initial_folder))
        return self

    def fetch(self, criteria: Any, *, mark_seen: bool, limit: int) -> Any:
        self.calls.append(("fetch", str(criteria), mark_seen))
        return iter(self.messages[:limit])

    def flag(self, uid: str, flag: str, value: bool) -> None:
        self.calls.append(("flag", uid, flag, value))

    def move(self, uid: str, folder: str) -> None:
        self.calls.append(("move", uid, folder))

    def logout(self) -> None:
        self.calls.append(("logout",))


@pytest.mark.django_db(transaction=True)
def test_the_imap_adapter_logs_in_fetches_unseen_and_flags_after_commit(org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SUPPORT_IMAP_PASSWORD", "s3cret")
    box = StubMailBox([StubMessage("17", (FIXTURES / "new_outlook.eml").read_bytes())])
    config = MailboxConfig(
        name="imap",
        imap_host="imap.example.test",
        imap_user="support",
        imap_password_env="SUPPORT_IMAP_PASSWORD",
        authserv_id=["mx.tandem.test"],
    )
    monkeypatch.setattr(MailboxConfig, "source", lambda self: ImapSource(self, lambda c: box))
    report = receive.mail_fetch(configs=[config])  # outside a transaction, as the task runs
    assert report.outcomes == {"created": 1}
    # flagged once its row committed, before the log-out
    assert box.calls == [
        ("login", "support", "s3cret", "INBOX"),
        ("fetch", "(UNSEEN)", False),
        ("flag", "17", "\\Seen", True),
        ("logout",),
    ]
    assert Incident.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_imap_adapter_uses_an_oauth2_token_and_a_done_folder(
    org, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SUPPORT_IMAP_TOKEN", "ya29.token")
    box = StubMailBox([StubMessage("5", (FIXTURES / "bounce.eml").read_bytes())])
    config = MailboxConfig(
        name="o365",
        imap_host="outlook.office365.com",
        imap_user="support@tandem.test",
        imap_oauth2_token_env="SUPPORT_IMAP_TOKEN",
        imap_done_folder="Tandem/Done",
    )
    source = ImapSource(config, lambda c: box)
    monkeypatch.setattr(MailboxConfig, "source", lambda self: source)
    receive.mail_fetch(configs=[config])
    assert box.calls == [
        ("xoauth2", "support@tandem.test", "ya29.token", "INBOX"),
        ("fetch", "ALL", False),
        ("move", "5", "Tandem/Done"),
        ("logout",),
    ]
    assert InboundMail.objects.get().outcome == Outcome.IGNORED


def test_the_admin_lists_every_mail_with_its_record(
    org, mail_settings, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory

    drop(mail_settings, "new_outlook.eml")
    drop(mail_settings, "bounce.eml")
    drop(mail_settings, "unknown_sender.eml")
    fetch(django_capture_on_commit_callbacks)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    with django_assert_max_num_queries(12):
        page = client.get("/admin/integrations/inboundmail/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "INC-" in text and "mailer-daemon@mx.tandem.test" in text
    row = InboundMail.objects.get(outcome=Outcome.REJECTED)
    assert client.get(f"/admin/integrations/inboundmail/{row.pk}/change/").status_code == 200
    assert client.get("/admin/integrations/inboundmail/add/").status_code == 403


def test_beat_runs_the_fetch_task(org, settings, mail_settings) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app
    from integrations.tasks import mail_fetch

    entry = settings.CELERY_BEAT_SCHEDULE["mail-fetch"]
    assert entry["task"] in app.tasks and entry["schedule"] == settings.MAIL_FETCH_SECONDS
    drop(mail_settings, "new_outlook.eml")
    assert mail_fetch.delay().get() == 1
    assert Incident.objects.count() == 1
