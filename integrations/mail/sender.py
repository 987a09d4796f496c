"""Whether a mail really comes from its From address, before Tandem acts as that person.

The From header is whatever the sender typed. What a receiving MTA found out about it
(SPF, DKIM, DMARC) it writes into an ``Authentication-Results`` header (RFC 8601) headed
by its own name, the authserv-id. Tandem reads only the header of the MTA a mailbox trusts
(``MailboxConfig.authserv_id``), never checks signatures itself (it sees no SMTP session,
and the MTA already did), and counts the sender as verified when that header says:

- ``dmarc=pass`` with ``header.from`` the From domain, or
- ``dkim=pass`` whose signing domain (``header.d``, else the domain of ``header.i``) is
  aligned with the From domain, or
- ``spf=pass`` whose ``smtp.mailfrom`` domain is aligned with the From domain,

"aligned" being strict and simple: the same domain, or a parent of it with at least one dot
(``example.com`` for ``mail.example.com``; never ``com``, never ``badexample.com``).

Which header: only the topmost one bearing a trusted authserv-id. Headers are prepended on
the way, so that one is the last our MTA wrote; every header below it was there before it
took the mail and may be the sender's own forgery, even one bearing our id (RFC 8601 §5
tells the MTA to delete those, but not every MTA does). Headers with other ids are ignored:
anyone can write them. A mail with more than one From address is never verified (DMARC
itself refuses to judge it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

import authres

if TYPE_CHECKING:
    from integrations.mail.message import Mail
    from integrations.mail.sources import MailboxConfig

AUTHENTICATED = "authenticated"
OFF = "off"
SENDER_CHECKS = (AUTHENTICATED, OFF)

# the authserv-id of a header authres cannot read: its first token, after any comments
_LEADING_ID = re.compile(r'\s*(?:\([^()]*\)\s*)*"?([^\s;()"]+)')
# the property shown in a verdict, per method: what the result was about
_SHOWN = {"dmarc": ("header", "from"), "spf": ("smtp", "mailfrom"), "dkim": ("header", "d")}


@dataclass(frozen=True)
class SenderVerdict:
    verified: bool
    detail: str  # what the results said, for the mail's record and the log


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip(".").lower()


def aligned(from_domain: str, domain: str) -> bool:
    """``domain`` is ``from_domain`` or a parent of it (never a single label)."""
    domain = _domain(domain)
    return "." in domain and (from_domain == domain or from_domain.endswith("." + domain))


def _prop(result: Any, ptype: str, name: str) -> str:
    for p in result.properties:
        if p.type.lower() == ptype and p.name.lower() == name:
            return str(p.value or "")
    return ""


def _passes(result: Any, from_domain: str) -> bool:
    if str(result.result).lower() != "pass":
        return False
    method = str(result.method).lower()
    if method == "dmarc":
        # required, not assumed: the MTA must have judged the same From we read
        return _domain(_prop(result, "header", "from")) == from_domain
    if method == "dkim":
        signer = _prop(result, "header", "d") or _prop(result, "header", "i")
        return bool(signer) and aligned(from_domain, signer)
    if method == "spf":
        mailfrom = _prop(result, "smtp", "mailfrom")
        return bool(mailfrom) and aligned(from_domain, mailfrom)
    return False


def _said(result: Any) -> str:
    method = str(result.method).lower()
    shown = _SHOWN.get(method)
    value = _prop(result, *shown) if shown else ""
    if method == "dkim" and not value:
        shown, value = ("header", "i"), _prop(result, "header", "i")
    text = f"{method}={str(result.result).lower()}"
    return f"{text} {shown[0]}.{shown[1]}={value}" if shown and value else text


def _authserv_id(value: str) -> tuple[str, Any]:
    """The header's authserv-id (lower case) and its parsed results (None: unreadable)."""
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own SyntaxError and friends on a bad header
        found = _LEADING_ID.match(value)
        return (found.group(1).lower() if found else ""), None
    return str(parsed.authserv_id or "").strip('"').lower(), parsed


def sender_verdict(mail: Mail, mailbox: MailboxConfig) -> SenderVerdict:
    """Whether ``mail``'s From address is verified by the MTA ``mailbox`` trusts."""
    if mailbox.sender_check == OFF:
        return SenderVerdict(True, "sender check off for this mailbox")
    trusted = mailbox.authserv_ids
    if not trusted:
        return SenderVerdict(False, "the mailbox names no authserv_id to trust")
    headers = mail.headers
    assert headers is not None
    froms = getaddresses([str(v) for v in headers.get_all("From", [])])
    if len(froms) != 1:
        return SenderVerdict(False, f"{len(froms)} From addresses")
    from_domain = _domain(mail.sender) if "@" in mail.sender else ""
    if not from_domain:
        return SenderVerdict(False, "no domain in the From address")
    ignored = 0
    for value in headers.get_all("Authentication-Results", []):
        authserv_id, parsed = _authserv_id(str(value))
        if authserv_id not in trusted:
            ignored += 1
            continue
        if parsed is None:
            return SenderVerdict(False, f"the results of {authserv_id} could not be read")
        results = list(parsed.results)
        said = ", ".join(_said(r) for r in results) or "none"
        if any(_passes(r, from_domain) for r in results):
            return SenderVerdict(True, f"{authserv_id}: {said}")
        return SenderVerdict(False, f"{authserv_id}: {said}; nothing passes for {from_domain}")
    others = f"; {ignored} from other hosts ignored" if ignored else ""
    return SenderVerdict(False, f"no Authentication-Results from {', '.join(trusted)}{others}")
