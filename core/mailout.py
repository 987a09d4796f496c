"""What an e-mail notice looks like on the wire: its plain-text and HTML parts (rendered
from ``templates/email/``), its threading headers and its unsubscribe link.

``core.services`` calls ``email_payloads`` at the one place each of ``outbox_email``,
``outbox_emails`` and ``outbox_email_many`` builds outbox rows; the row's ``body`` stays
the content the caller wrote (the in-app notification shows it), and ``payload`` carries
what ``core.outbox.send_email`` puts on the wire:

- ``notice``: what the two parts are rendered from when the mail is sent
  (``message_parts``; the action's transaction pays for no template), both from the one
  layout: a reply-above-this-line
  marker on notices one may answer by e-mail (incidents and service requests, which the
  support mailbox turns into comments), the content, a link to the record, and a footer
  saying why the person got it, with an unsubscribe link for non-essential families.
- ``message_id``: ``<hex.KEY@MAIL_DOMAIN>``, unique per e-mail; indexed (the outbox
  model's ``outbox_email_message_id_idx``) so a reply's ``In-Reply-To`` finds its record
  and the mail fetcher recognises Tandem's own mail.
- ``headers``: ``Message-ID``; ``In-Reply-To`` and ``References`` to the record's stable
  thread root ``<tandem.incident.42@MAIL_DOMAIN>`` (``thread_root``), so every notice of
  one ticket lands in one conversation; ``Auto-Submitted: auto-generated`` (RFC 3834:
  nobody's out-of-office should answer a notice); ``List-Unsubscribe`` with
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) for non-essential
  families.
- ``reply_to``: the support mailbox on notices one may answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import models
from django.template.loader import get_template
from django.urls import reverse

from core.models import NotificationFamily

if TYPE_CHECKING:
    from core.notifications import Plan

F = NotificationFamily

# Families whose e-mail carries no unsubscribe link: the support conversation on one's
# own ticket (acknowledgement, replies, resolution — the requester who wrote in expects
# the answer by e-mail) and approvals asked of one (work waits on the answer). A person
# may still turn them off on the preferences page, deliberately.
ESSENTIAL_FAMILIES = frozenset({F.TICKETS, F.APPROVALS})

# Record kinds (``core.notices.record_kind``) whose notices one may answer by e-mail: the
# support mailbox turns a reply into a comment on them (``integrations.mail``).
REPLYABLE_KINDS = frozenset({"incident", "request"})

REPLY_MARKER = "##- Please type your reply above this line -##"

UNSUBSCRIBE_SALT = "tandem.mail.unsubscribe"

_WHY = {
    F.ASSIGNED: "something was assigned to you or your team",
    F.MENTIONED: "someone mentioned you",
    F.WATCHED: "you watch this record",
    F.TICKETS: "it is about a ticket you raised or work on",
    F.SLA: "you look after a ticket whose SLA is at risk",
    F.APPROVALS: "your approval is asked for or was given",
    F.DELIVERY: "you take part in this change, release, problem or article",
}

_ROOT = re.compile(r"^<?tandem\.([a-z_]+)\.(\d+)@([^>]+)>?$", re.IGNORECASE)


def mail_domain() -> str:
    return settings.MAIL_DOMAIN


def thread_root(kind: str, pk: int) -> str:
    """The stable id every notice of one record refers to (``In-Reply-To``,
    ``References``); never itself the ``Message-ID`` of a sent mail."""
    return f"<tandem.{kind}.{pk}@{mail_domain()}>"


def parse_thread_root(message_id: str) -> tuple[str, int] | None:
    """``(kind, pk)`` of a thread root of this instance's domain, else None."""
    found = _ROOT.match(message_id.strip())
    if not found or found.group(3).lower() != mail_domain().lower():
        return None
    return found.group(1).lower(), int(found.group(2))


def new_message_id(key: str = "") -> str:
    safe = re.sub(r"[^A-Za-z0-9-]", "", key)
    return f"<{uuid.uuid4().hex}{'.' + safe if safe else ''}@{mail_domain()}>"


# --- unsubscribe ---------------------------------------------------------------------------
def unsubscribe_token(user_id: int, family: str) -> str:
    """A signed, non-expiring token naming a user and a family (a link in a year-old
    e-mail still works; it can only turn that one family's e-mail off)."""
    return signing.dumps([user_id, family], salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, str]:
    """``(user_id, family)`` of a token; raises ``signing.BadSignature`` or ValueError."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if (
        not isinstance(data, list)
        or len(data) != 2
        or not isinstance(data[0], int)
        or data[1] not in F.values
    ):
        raise ValueError("not an unsubscribe token")
    return data[0], data[1]


def unsubscribe_url(user_id: int, family: str) -> str:
    path = reverse("mail_unsubscribe", args=[unsubscribe_token(user_id, family)])
    return f"{settings.TANDEM_BASE_URL}{path}"


# --- the payload ---------------------------------------------------------------------------
def _record_facts(target: models.Model | None) -> tuple[str, str, str, str]:
    """``(kind, key, link, thread root)`` of a notice's record ('' without one)."""
    if target is None:
        return "", "", "", ""
    from core.notices import record_kind, record_link
    from core.watchers import record_key

    kind = record_kind(target)
    return kind, record_key(target), record_link(target), thread_root(kind, int(target.pk))


def subject_with_key(subject: str, target: models.Model | None) -> str:
    """The subject carries ``[INC-1042]`` (the fetcher's last resort to find a reply's
    ticket, and how people search their mail)."""
    if target is None or getattr(target, "key", None) is None:
        return subject
    key = f"[{target.key}]"  # type: ignore[attr-defined]
    return subject if key in subject else f"{key} {subject}"


def render_parts(
    *,
    subject: str,
    body: str,
    family: str,
    link: str,
    key: str,
    replyable: bool,
    unsubscribe_url: str,
) -> tuple[str, str]:
    """The plain-text and HTML parts of a notice, from ``templates/email/notice.*``."""
    context = {
        "subject": subject,
        "body": body,
        "link": link,
        "key": key,
        "marker": REPLY_MARKER if replyable else "",
        "why": _WHY.get(family, "you take part in this record"),
        "family_label": F(family).label if family in F.values else family,
        "preferences_url": f"{settings.TANDEM_BASE_URL}{reverse('notification_preferences')}",
        "unsubscribe_url": unsubscribe_url,
    }
    return (
        get_template("email/notice.txt").render(context).strip() + "\n",
        get_template("email/notice.html").render(context),
    )


def message_parts(message: Any) -> tuple[str, str]:
    """An outbox e-mail's two parts, rendered when it is sent (``core.outbox.send_email``),
    not when it is written: the action's transaction (the SLA sweep's thousand notices)
    pays for a few facts in ``payload["notice"]``, not for two templates each. A message
    written with its own ``text``/``html`` (or none: before issue 15) is sent as written."""
    payload = message.payload or {}
    notice = payload.get("notice")
    if notice is None:
        return payload.get("text") or message.body, payload.get("html") or ""
    return render_parts(subject=message.subject, body=message.body, **notice)


def email_payloads(
    *,
    event: str,
    items: Sequence[tuple[list[str], str, str]],
    target: models.Model | None,
    plan: Plan,
) -> list[tuple[str, dict[str, Any]]]:
    """For each e-mail ``(recipients, subject, body)`` of one event about ``target``: the
    subject to store (with the record's key) and the payload (``message_id``, ``thread``,
    ``headers``, ``reply_to``, and ``notice``: what ``message_parts`` renders the two
    parts from when the mail is sent). ``plan`` (``core.notifications``) says whose own
    address each is: a mail to exactly one person of a non-essential family carries
    their unsubscribe link (a team's list is nobody's preference)."""
    family = plan.family
    kind, key, link, root = _record_facts(target)
    replyable = kind in REPLYABLE_KINDS and bool(settings.MAIL_SUPPORT_ADDRESS)
    essential = family in ESSENTIAL_FAMILIES
    out = []
    for recipients, subject, _body in items:
        subject = subject_with_key(subject, target)
        person = None
        if not essential and len(recipients) == 1 and recipients[0] in plan.own:
            reached = plan.users_at.get(recipients[0], [])
            person = reached[0] if len(reached) == 1 else None
        message_id = new_message_id(key)
        headers = {
            "Message-ID": message_id,
            "Auto-Submitted": "auto-generated",
            # Exchange/Outlook: no out-of-office or read receipts back to a notice
            "X-Auto-Response-Suppress": "All",
        }
        if root:
            headers["In-Reply-To"] = root
            headers["References"] = root
        url = ""
        if person is not None:
            url = unsubscribe_url(person, family)
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        payload: dict[str, Any] = {
            "notice": {
                "family": family,
                "link": link,
                "key": key,
                "replyable": replyable,
                "unsubscribe_url": url,
            },
            "message_id": message_id,
            "headers": headers,
        }
        if root:
            payload["thread"] = root
        if replyable:
            payload["reply_to"] = [settings.MAIL_SUPPORT_ADDRESS]
        out.append((subject[:255], payload))
    return out
