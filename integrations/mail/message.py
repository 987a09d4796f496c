"""Reading one mail: who sent it, what it answers, its text (HTML-only mail made plain
text), its attachments, and whether it is an auto-reply, a bounce or Tandem's own mail.
No database writes here (``integrations.mail.receive`` acts on what this finds)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from django.conf import settings

from core import mailout

_ID = re.compile(r"<[^<>\s]+>")
_KEY = re.compile(r"\[(INC|REQ)-(\d+)\]", re.IGNORECASE)
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = ("mailer-daemon", "postmaster")
MAX_ID = 255


@dataclass
class MailPart:
    name: str
    content: bytes
    content_type: str


@dataclass
class Mail:
    raw: bytes
    message_id: str  # as written, '' when missing
    sender: str  # the From address, lower-cased
    sender_name: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To, lower-cased
    subject: str
    sent_at: datetime | None
    references: list[str]  # In-Reply-To first, then References newest first
    text: str
    attachments: list[MailPart] = field(default_factory=list)
    headers: EmailMessage | None = None

    @property
    def key(self) -> str:
        """What makes the mail unique: its Message-ID, else a hash of its bytes."""
        if self.message_id and len(self.message_id) <= MAX_ID:
            return self.message_id
        source = self.message_id.encode() if self.message_id else self.raw
        return "sha256:" + hashlib.sha256(source).hexdigest()

    def ticket_in_subject(self) -> tuple[str, int] | None:
        """``("incident", 1042)`` for ``[INC-1042]`` in the subject."""
        found = _KEY.search(self.subject)
        if not found:
            return None
        kind = "incident" if found.group(1).upper() == "INC" else "request"
        return kind, int(found.group(2))


def _addresses(message: EmailMessage, *names: str) -> list[str]:
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return [addr.lower() for _, addr in getaddresses(values) if addr]


def _ids(value: str | None) -> list[str]:
    return _ID.findall(str(value or ""))


class _TextFromHtml(HTMLParser):
    """HTML to plain text, for an HTML-only mail: the text of the page with its line
    breaks, links as "text (url)", nothing of scripts, styles or the head. The result is
    only ever text (shown escaped, or rendered by ``core.markdown`` like any comment)."""

    _BLOCK = {"p", "div", "br", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
    _SKIP = {"script", "style", "head", "title", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("\n- ")
        if tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in self._BLOCK:
            self.out.append("\n")
        if tag == "a" and self.href:
            href = self.href.pop()
            if href.startswith(("http://", "https://")):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.out)
        lines = [line.strip() for line in joined.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    return parser.text()


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        try:
            return str(part.get_content())
        except (LookupError, UnicodeError):  # an unknown or lying charset
            return part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        try:
            html = str(part.get_content())
        except (LookupError, UnicodeError):
            html = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
        return html_to_text(html)
    return ""


def _attachments(message: EmailMessage) -> list[MailPart]:
    found = []
    for index, part in enumerate(message.iter_attachments(), start=1):
        if part.get_content_maintype() in ("multipart", "message"):
            continue  # a forwarded mail's structure: its text is in the body already
        content = part.get_payload(decode=True)
        if not content:
            continue
        name = part.get_filename() or f"attachment-{index}"
        found.append(MailPart(name, content, part.get_content_type()))
    # inline images of an HTML mail (a screenshot pasted into Outlook) are attachments too
    for part in message.walk():
        if (
            part.get_content_maintype() == "image"
            and part.get_content_disposition() == "inline"
            and part.get_filename()
        ):
            content = part.get_payload(decode=True)
            if content:
                found.append(MailPart(part.get_filename(), content, part.get_content_type()))
    return found


def mail_parse(raw: bytes) -> Mail:
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    message_id = (_ids(message.get("Message-ID")) or [""])[0]
    name, sender = parseaddr(str(message.get("From", "")))
    try:
        sent_at = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    references = _ids(message.get("In-Reply-To")) + list(reversed(_ids(message.get("References"))))
    return Mail(
        raw=raw,
        message_id=message_id,
        sender=sender.lower(),
        sender_name=name,
        recipients=_addresses(message, "To", "Cc", "Delivered-To", "X-Original-To"),
        subject=re.sub(r"\s+", " ", str(message.get("Subject", "") or "")).strip(),
        sent_at=sent_at,
        references=list(dict.fromkeys(references)),
        text=_body_text(message),
        attachments=_attachments(message),
        headers=message,
    )


# --- what not to answer ----------------------------------------------------------------------
_OWN_ID = re.compile(r"^<[0-9a-f]{32}(\.[A-Za-z0-9-]+)?@(?P<domain>[^>]+)>$")


def is_own_message_id(message_id: str) -> bool:
    """An id Tandem minted (``core.mailout.new_message_id``) on this instance's domain."""
    found = _OWN_ID.match(message_id or "")
    return bool(found) and found.group("domain").lower() == mailout.mail_domain().lower()


def own_addresses() -> set[str]:
    addresses = {
        parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(),
        (settings.MAIL_SUPPORT_ADDRESS or "").lower(),
        parseaddr(getattr(settings, "SERVER_EMAIL", "") or "")[1].lower(),
    }
    return {a for a in addresses if a}


def why_ignored(mail: Mail) -> str:
    """Why a mail must not be answered or turned into work: an auto-reply, a bounce or a
    loop of Tandem's own mail ('' when it is a person's mail)."""
    h = mail.headers
    assert h is not None
    auto = str(h.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        return f"auto-reply (Auto-Submitted: {auto})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if h.get(name) is not None:
            return f"auto-reply ({name})"
    precedence = str(h.get("Precedence", "") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"auto-reply or list mail (Precedence: {precedence})"
    if h.get_content_type() == "multipart/report" or (mail.sender.split("@")[0] in _DAEMONS):
        return "bounce (delivery report)"
    if not mail.sender:
        return "no sender (bounce)"
    if mail.sender in own_addresses():
        return f"loop (from Tandem's own address {mail.sender})"
    if mail.message_id and is_own_message_id(mail.message_id):
        return f"loop (Tandem's own Message-ID {mail.message_id})"
    return ""
