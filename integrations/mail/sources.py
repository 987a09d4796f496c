"""Where mail comes from: the mailboxes of ``settings.MAIL_MAILBOXES``, each a Maildir
(the tests and the embedded default, ``var/mail/support/``) or an IMAP folder read with
``imap-tools`` (a password, or an OAuth2 access token by XOAUTH2).

A source hands out ``(handle, bytes)`` and is told ``done(handle)`` only after the mail's
``InboundMail`` row committed: a fetch interrupted in between reads the mail again and
finds it processed. A Maildir mail is done when it moves from ``new/`` to ``cur/`` with
the Seen flag; an IMAP mail when it moves to ``imap_done_folder`` or, without one, when
it is flagged ``\\Seen`` (then only unseen mail is read: a person opening the mailbox in a
mail client would hide mail from Tandem, so give a done folder in production).

Each mailbox also says whose word on the sender it takes (``integrations.mail.sender``):
``sender_check`` "authenticated" (the default) trusts the ``Authentication-Results`` of
the MTAs named in ``authserv_id`` and nothing else; "off" takes the From header as it is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from integrations.mail.sender import AUTHENTICATED, SENDER_CHECKS

MAKES = ("incident", "request")


@dataclass(frozen=True)
class MailboxConfig:
    name: str
    makes: str = "incident"
    service: str = ""  # the service of its incidents (a name); blank: MAIL_DEFAULT_SERVICE
    request_alias: str = ""  # mail addressed to it orders MAIL_REQUEST_ITEM
    maildir: str = ""
    imap_host: str = ""
    imap_port: int = 993
    imap_ssl: bool = True
    imap_user: str = ""
    imap_password_env: str = ""  # the environment variable holding the password
    imap_oauth2_token_env: str = ""  # ... or an OAuth2 access token (XOAUTH2)
    imap_folder: str = "INBOX"
    imap_done_folder: str = ""
    # "authenticated": act as the From address only when an Authentication-Results header
    # of one of the ``authserv_id`` MTAs (a name or a list) verifies it; "off": take the
    # From header as it is (a mailbox whose MTA already refuses unauthenticated mail, or
    # the embedded demo's Maildir, which no MTA feeds)
    sender_check: str = AUTHENTICATED
    authserv_id: str | Sequence[str] = ()

    def __post_init__(self) -> None:
        ids = self.authserv_id
        if isinstance(ids, str):
            ids = ids.replace(",", " ").split()
        if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {self.name}: authserv_id is a name or a list of names."
            )
        # a tuple, so the frozen config stays hashable
        object.__setattr__(self, "authserv_id", tuple(i.strip().lower() for i in ids if i))

    @property
    def authserv_ids(self) -> tuple[str, ...]:
        return tuple(self.authserv_id)

    def source(self) -> MailSource:
        if self.maildir:
            return MaildirSource(Path(self.maildir))
        return ImapSource(self)


def mailboxes() -> list[MailboxConfig]:
    """The configured mailboxes; a mistake in ``MAIL_MAILBOXES`` is named."""
    known = {f.name for f in fields(MailboxConfig)}
    found = []
    for entry in settings.MAIL_MAILBOXES:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ImproperlyConfigured("Each MAIL_MAILBOXES entry is an object with a name.")
        unknown = set(entry) - known
        if unknown:
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {entry['name']}: unknown keys {', '.join(sorted(unknown))}."
            )
        config = MailboxConfig(**entry)
        if config.makes not in MAKES:
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {config.name}: makes is 'incident' or 'request'."
            )
        if bool(config.maildir) == bool(config.imap_host):
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {config.name}: give either a maildir or an imap_host."
            )
        if config.sender_check not in SENDER_CHECKS:
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {config.name}: sender_check is 'authenticated' or 'off'."
            )
        if config.sender_check == AUTHENTICATED and not config.authserv_ids:
            raise ImproperlyConfigured(
                f"MAIL_MAILBOXES {config.name}: sender_check 'authenticated' (the default) "
                "needs authserv_id, the name your receiving MTA writes at the head of its "
                'Authentication-Results header (e.g. "mx.example.com"); or sender_check '
                "'off' when that MTA already refuses mail that fails DMARC."
            )
        found.append(config)
    return found


def check_mailboxes(**kwargs: Any) -> list[checks.CheckMessage]:
    """A mistake in ``MAIL_MAILBOXES`` stops ``migrate``, ``runserver`` and ``check``, not
    only the first fetch (registered in ``IntegrationsConfig.ready``)."""
    try:
        mailboxes()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="tandem.E151")]
    return []


class MailSource:
    def __enter__(self) -> MailSource:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def fetch(self, limit: int) -> Iterator[tuple[Any, bytes]]:
        raise NotImplementedError

    def done(self, handle: Any) -> None:
        raise NotImplementedError


class MaildirSource(MailSource):
    """A Maildir (``new/``, ``cur/``, ``tmp/``): mail in ``new/`` and unseen mail in
    ``cur/`` is read; a dropped-in ``.eml`` in ``new/`` is a mail like any other."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> MaildirSource:
        for sub in ("new", "cur", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        return self

    def fetch(self, limit: int) -> Iterator[tuple[Path, bytes]]:
        waiting = sorted(p for p in (self.path / "new").iterdir() if p.is_file())
        waiting += sorted(
            p
            for p in (self.path / "cur").iterdir()
            if p.is_file() and "S" not in p.name.partition(":2,")[2]
        )
        for path in waiting[:limit]:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:  # another fetcher took it on
                continue
            yield path, raw

    def done(self, handle: Path) -> None:
        base, _, flags = handle.name.partition(":2,")
        target = self.path / "cur" / f"{base}:2,{''.join(sorted(set(flags) | {'S'}))}"
        with contextlib.suppress(FileNotFoundError):  # another fetcher marked it
            os.replace(handle, target)


def _imap_mailbox(config: MailboxConfig) -> Any:
    from imap_tools import MailBox, MailBoxUnencrypted

    cls = MailBox if config.imap_ssl else MailBoxUnencrypted
    return cls(config.imap_host, config.imap_port)


class ImapSource(MailSource):
    """An IMAP folder through imap-tools' ``MailBox``. ``connect`` makes the (not yet
    logged-in) MailBox; the tests give a stub."""

    def __init__(
        self, config: MailboxConfig, connect: Callable[[MailboxConfig], Any] = _imap_mailbox
    ) -> None:
        self.config = config
        self.connect = connect
        self.box: Any = None

    def __enter__(self) -> ImapSource:
        c = self.config
        box = self.connect(c)
        if c.imap_oauth2_token_env:
            token = os.environ.get(c.imap_oauth2_token_env, "")
            if not token:
                raise ImproperlyConfigured(f"{c.imap_oauth2_token_env} holds no token.")
            self.box = box.xoauth2(c.imap_user, token, initial_folder=c.imap_folder)
        else:
            password = os.environ.get(c.imap_password_env, "") if c.imap_password_env else ""
            self.box = box.login(c.imap_user, password, initial_folder=c.imap_folder)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.box is not None:
            try:
                self.box.logout()
            finally:
                self.box = None

    def fetch(self, limit: int) -> Iterator[tuple[str, bytes]]:
        from imap_tools import AND

        criteria = "ALL" if self.config.imap_done_folder else AND(seen=False)
        for message in self.box.fetch(criteria, mark_seen=False, limit=limit):
            yield message.uid, message.obj.as_bytes()

    def done(self, handle: str) -> None:
        from imap_tools import MailMessageFlags

        if self.config.imap_done_folder:
            self.box.move(handle, self.config.imap_done_folder)
        else:
            self.box.flag(handle, MailMessageFlags.SEEN, True)
