"""E-mail in: the one write path for a mail a mailbox delivered (``mail_receive``) and the
fetch that reads every mailbox (``mail_fetch``: ``manage.py mail_fetch`` and the beat
task ``integrations.tasks.mail_fetch``).

A mail becomes, through the same services as a person at the screen, acting as the
sender:
- a reply to a ticket — found by ``In-Reply-To``/``References`` (the ticket's thread root
  ``<tandem.incident.42@MAIL_DOMAIN>``, or a Message-ID Tandem sent, looked up in the
  outbox), else by ``[INC-1042]`` / ``[REQ-1007]`` in the subject — a public comment
  (``incident_comment`` / ``request_comment``: the ticket's own rule says who may reply),
  with the quoted history and signature cut (``mail-parser-reply``, and everything below
  Tandem's reply-above-this-line marker);
- otherwise a new incident (``incident_create``; title the subject, description the
  text), or a service request (``request_submit`` of ``MAIL_REQUEST_ITEM``, the text as
  its first reply) when the mailbox makes requests or the mail is addressed to its
  request alias;
- attachments kept as the record's attachments (``core.attachments.attachment_add``,
  which sniffs and limits; one it refuses is named in the mail's record, the rest stay).

Auto-replies, bounces and loops of Tandem's own mail are ignored (and logged). A mail
whose sender its mailbox's MTA did not verify (``integrations.mail.sender``: SPF, DKIM or
DMARC in a trusted ``Authentication-Results``) is rejected before anyone is looked up: it
acts as nobody, makes no account and gets no answer (its From may be forged, and a reply
would be backscatter to the forged address). A verified sender no active user has follows
``MAIL_UNKNOWN_SENDER``. Every mail leaves one ``InboundMail`` row, written in the
transaction of what it made, unique by Message-ID: a mail is processed once however often
it is fetched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.fields.json import KT
from django.db.models.lookups import Exact
from django.utils import timezone
from mailparser_reply import EmailReplyParser

from core import mailout
from core.exceptions import DomainError
from core.models import Comment, OutboxMessage, Service
from core.roles import Role
from core.services import COMMENT_MAX_CHARS, audit_record, outbox_email
from integrations.mail.message import Mail, mail_parse, why_ignored
from integrations.mail.sender import sender_verdict
from integrations.mail.sources import MailboxConfig, mailboxes
from integrations.models import InboundMail

log = logging.getLogger(__name__)
User = get_user_model()
Outcome = InboundMail.Outcome

# a polite "we could not take your mail" goes to one address at most this often (a
# forged sender must not turn Tandem into a source of backscatter)
REJECT_REPLY_EVERY = timedelta(hours=24)
_TITLE_MAX = 200


@dataclass
class Acted:
    outcome: str
    reason: str = ""
    record: models.Model | None = None
    comment: Comment | None = None
    user: Any = None
    notes: list[str] = field(default_factory=list)


# --- finding things ---------------------------------------------------------------------
def _ticket(kind: str, *, pk: int | None = None, number: int | None = None) -> Any:
    from itsm.models import Incident, ServiceRequest

    model = Incident if kind == "incident" else ServiceRequest if kind == "request" else None
    if model is None:
        return None
    query = {"pk": pk} if pk is not None else {"number": number}
    return model.objects.filter(**query).first()


def ticket_replied_to(mail: Mail) -> Any:
    """The incident or service request a mail answers, or None for a new mail."""
    for message_id in mail.references:
        root = mailout.parse_thread_root(message_id)
        if root is not None:
            found = _ticket(root[0], pk=root[1])
            if found is not None:
                return found
            continue
        sent = (
            # a plain = on the key's text, as the index is written: the JSON field's own
            # exact lookup would read the id as JSON on SQLite (the embedded default)
            OutboxMessage.objects.filter(
                Exact(KT("payload__message_id"), Value(message_id)),
                channel=OutboxMessage.Channel.EMAIL,
            )
            .values_list("content_type__model", "object_id")
            .first()
        )
        if sent and sent[1] is not None:
            kind = {"servicerequest": "request"}.get(sent[0], sent[0])
            found = _ticket(kind, pk=sent[1])
            if found is not None:
                return found
    in_subject = mail.ticket_in_subject()
    if in_subject is not None:
        return _ticket(in_subject[0], number=in_subject[1])
    return None


def _sender_user(mail: Mail) -> Any:
    return User.objects.filter(email__iexact=mail.sender, is_active=True).order_by("pk").first()


def reply_text(text: str) -> str:
    """The new part of a reply: above Tandem's marker, without quoted history or a
    signature."""
    marker = text.find(mailout.REPLY_MARKER)
    if marker >= 0:
        # and the quote sign of the line that carried it ("> ##- Please type…")
        text = text[:marker].rstrip().rstrip(">").rstrip()
    parsed = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"]).read(text=text)
    if parsed.replies:
        body = (parsed.replies[0].body or "").strip()
        if body:
            return body
    return (parsed.latest_reply or text).strip()


# --- acting as the sender -------------------------------------------------------------------
def _requester_create(mail: Mail, mailbox: MailboxConfig) -> Any:
    """A requester account for an unknown sender: no usable password (they get in by a
    password reset or SSO). Audit: ``created`` on the user, actor empty."""
    local = re.sub(r"[^\w.@+-]", "", mail.sender.split("@")[0])[:120] or "requester"
    username, n = local, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{local}{n}"
    first, _, last = (mail.sender_name or "").strip().partition(" ")
    user = User(username=username, email=mail.sender, first_name=first[:150], last_name=last[:150])
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get_or_create(name=Role.REQUESTER.value)[0])
    audit_record(
        target=user,
        actor=None,
        action="created",
        comment=f"Made a requester by an e-mail to the {mailbox.name} mailbox.",
    )
    return user


def _reject_politely(mail: Mail, mailbox: MailboxConfig) -> str:
    recent = InboundMail.objects.filter(
        sender=mail.sender,
        outcome=Outcome.REJECTED,
        reason__startswith="unknown sender",
        received_at__gte=timezone.now() - REJECT_REPLY_EVERY,
    ).exists()
    if recent:
        return "unknown sender; told already today, not again"
    headers = {"Auto-Submitted": "auto-replied"}
    if mail.message_id:
        headers["In-Reply-To"] = mail.message_id
        headers["References"] = mail.message_id
    outbox_email(
        event="mail.rejected",
        recipients=[mail.sender],
        subject=f"Re: {mail.subject}"[:255] if mail.subject else "Your e-mail to the service desk",
        body=(
            "Thank you for your e-mail. We could not take it: this address is not known to "
            "our service desk, so no ticket was opened.\n\nIf you work with us, please write "
            "from the address your account uses, or raise the ticket on the portal: "
            f"{settings.TANDEM_BASE_URL}/"
        ),
        headers=headers,
    )
    return "unknown sender; a polite reply was sent"


def _attach(record: models.Model, user: Any, mail: Mail) -> list[str]:
    from core.attachments import attachment_add

    notes = []
    for part in mail.attachments:
        upload = SimpleUploadedFile(part.name, part.content, content_type=part.content_type)
        try:
            attachment_add(target=record, actor=user, file=upload, public=True)
        except DomainError as exc:
            notes.append(f"attachment {part.name} refused: {exc}")
    return notes


def _service_for(mailbox: MailboxConfig) -> Service | None:
    name = mailbox.service or settings.MAIL_DEFAULT_SERVICE
    active = Service.objects.filter(is_active=True)
    if name:
        return active.filter(name__iexact=name).first()
    return active.order_by("name").first()


def _wants_request(mail: Mail, mailbox: MailboxConfig) -> bool:
    if mailbox.makes == "request":
        return True
    alias = mailbox.request_alias.lower()
    return bool(alias) and alias in mail.recipients


def _create(mail: Mail, mailbox: MailboxConfig, user: Any) -> Acted:
    from itsm.services import incident_create
    from itsm.services.requests import request_comment, request_submit

    text = mail.text.strip()[:COMMENT_MAX_CHARS]
    if _wants_request(mail, mailbox):
        from itsm.models import CatalogItem

        item = CatalogItem.objects.filter(
            name__iexact=settings.MAIL_REQUEST_ITEM, is_active=True
        ).first()
        if not settings.MAIL_REQUEST_ITEM or item is None:
            return Acted(
                Outcome.REJECTED,
                f"no catalogue item for mailed requests (MAIL_REQUEST_ITEM="
                f"{settings.MAIL_REQUEST_ITEM!r})",
            )
        req = request_submit(actor=user, item=item, answers={})
        comment = None
        body = "\n\n".join(p for p in (mail.subject, text) if p)
        if body:
            comment = request_comment(request=req, actor=user, body=body, public=True)
        return Acted(Outcome.CREATED, "", req, comment, notes=_attach(req, user, mail))
    service = _service_for(mailbox)
    if service is None:
        return Acted(Outcome.REJECTED, "no active service for mailed incidents")
    incident = incident_create(
        actor=user,
        title=(mail.subject or "(no subject)")[:_TITLE_MAX],
        service=service,
        description=text,
    )
    return Acted(Outcome.CREATED, "", incident, notes=_attach(incident, user, mail))


def _comment(mail: Mail, ticket: Any, user: Any) -> Acted:
    from itsm.models import Incident
    from itsm.services import incident_comment
    from itsm.services.requests import request_comment

    body = reply_text(mail.text)[:COMMENT_MAX_CHARS]
    if not body and mail.attachments:
        body = f"(sent {len(mail.attachments)} attachment(s) by e-mail)"
    if not body:
        return Acted(Outcome.REJECTED, f"an empty reply to {ticket.key}", ticket)
    if isinstance(ticket, Incident):
        comment = incident_comment(incident=ticket, actor=user, body=body, public=True)
    else:
        comment = request_comment(request=ticket, actor=user, body=body, public=True)
    return Acted(Outcome.COMMENTED, "", ticket, comment, notes=_attach(ticket, user, mail))


def _act(mail: Mail, mailbox: MailboxConfig) -> Acted:
    ignored = why_ignored(mail)
    if ignored:
        return Acted(Outcome.IGNORED, ignored)
    checked = sender_verdict(mail, mailbox)
    if not checked.verified:
        return Acted(Outcome.REJECTED, f"sender not verified ({checked.detail})")
    user = _sender_user(mail)
    ticket = ticket_replied_to(mail)
    if user is None:
        if settings.MAIL_UNKNOWN_SENDER == "create" and ticket is None:
            user = _requester_create(mail, mailbox)
        else:
            return Acted(Outcome.REJECTED, _reject_politely(mail, mailbox), ticket)
    try:
        with transaction.atomic():  # a refused action leaves nothing half-written
            acted = _comment(mail, ticket, user) if ticket else _create(mail, mailbox, user)
    except DomainError as exc:
        return Acted(Outcome.REJECTED, f"{type(exc).__name__}: {exc}", ticket, user=user)
    acted.user = user
    return acted


# --- the action ---------------------------------------------------------------------------
def mail_receive(*, mailbox: MailboxConfig, raw: bytes) -> tuple[InboundMail, bool]:
    """Process one mail, once. Returns its ``InboundMail`` row and whether this call
    processed it (False: it was processed before, by an earlier or a concurrent fetch).

    In one transaction: the ``InboundMail`` row (unique Message-ID: a concurrent fetch of
    the same mail waits on it, then finds it), what the mail makes, and the row's
    outcome. An unexpected error rolls all of it back and raises: the mail stays in the
    mailbox and is tried again by the next fetch."""
    mail = mail_parse(raw)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = InboundMail.objects.create(
                    message_id=mail.key,
                    mailbox=mailbox.name[:60],
                    sender=mail.sender[:254],
                    subject=mail.subject[:255],
                    sent_at=mail.sent_at,
                    size=len(raw),
                    outcome=Outcome.IGNORED,
                )
        except IntegrityError:
            return InboundMail.objects.get(message_id=mail.key), False
        if len(raw) > settings.MAIL_MAX_BYTES:
            acted = Acted(Outcome.REJECTED, f"too large ({len(raw)} bytes)")
        else:
            acted = _act(mail, mailbox)
        reason = "; ".join(p for p in [acted.reason, *acted.notes] if p)
        row.outcome = acted.outcome
        row.reason = reason
        row.user = acted.user
        row.comment = acted.comment
        if acted.record is not None:
            row.content_type = ContentType.objects.get_for_model(acted.record)
            row.object_id = acted.record.pk
        row.save()
    level = (
        logging.INFO if acted.outcome in (Outcome.CREATED, Outcome.COMMENTED) else logging.WARNING
    )
    log.log(
        level,
        "mail %s from %s (%s): %s%s",
        mail.key,
        mail.sender,
        mailbox.name,
        acted.outcome,
        f" — {reason}" if reason else "",
    )
    return row, True


@dataclass
class FetchReport:
    processed: int = 0
    already: int = 0
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def mail_fetch(
    *,
    only: list[str] | None = None,
    limit: int | None = None,
    configs: list[MailboxConfig] | None = None,
) -> FetchReport:
    """Read every configured mailbox (or those named in ``only``): each mail is processed
    (``mail_receive``) and marked done in its mailbox after its row committed. A mail
    that fails unexpectedly is logged and left for the next fetch; the others go on."""
    report = FetchReport()
    limit = limit or settings.MAIL_FETCH_LIMIT
    for config in configs if configs is not None else mailboxes():
        if only and config.name not in only:
            continue
        with config.source() as source:
            for handle, raw in source.fetch(limit):
                try:
                    row, fresh = mail_receive(mailbox=config, raw=raw)
                except Exception:
                    report.failed += 1
                    log.exception("mail in %s: left in the mailbox for the next fetch", config.name)
                    continue
                if fresh:
                    report.processed += 1
                    report.outcomes[row.outcome] = report.outcomes.get(row.outcome, 0) + 1
                else:
                    report.already += 1
                # at once when called outside a transaction (the command, the task): the
                # row committed when ``mail_receive`` returned
                transaction.on_commit(lambda s=source, h=handle: _mark_done(s, h))
    return report


def _mark_done(source: Any, handle: Any) -> None:
    """Mark a processed mail in its mailbox. A failure only means the next fetch reads
    it again and finds it processed."""
    try:
        source.done(handle)
    except Exception:
        log.warning("mail %s: could not mark it done in its mailbox", handle, exc_info=True)
