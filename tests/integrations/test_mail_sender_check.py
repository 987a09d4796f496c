"""E-mail in acts as the From address only when the mailbox's own MTA verified it: a
forged From (no Authentication-Results, results of another host, dmarc=fail) makes nothing,
comments nothing, orders nothing, makes no account and gets no answer; it is recorded
REJECTED with what the results said. Rules in ``integrations.mail.sender``."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from core.models import Comment, OutboxMessage
from integrations.mail import receive
from integrations.mail.message import mail_parse
from integrations.mail.sender import aligned, sender_verdict
from integrations.mail.sources import MailboxConfig, check_mailboxes, mailboxes
from integrations.models import InboundMail
from itsm import services
from itsm.models import CatalogItem, Incident, ServiceRequest
from tests.integrations.conftest import mail_addresses

FIXTURE = Path(__file__).parent / "mail" / "sender_check.eml.tmpl"
Outcome = InboundMail.Outcome
RUTH = "Ruth Requester <requester@example.test>"  # org.requester's address
TRUSTED = "mx.tandem.test"
_ids = itertools.count(1)

CHECKED = MailboxConfig(name="support", maildir="/unused", authserv_id=TRUSTED)
UNCHECKED = MailboxConfig(name="support", maildir="/unused", sender_check="off")


def forged(*results: str, sender: str = RUTH, subject: str = "Bank details") -> bytes:
    """The fixture with these Authentication-Results headers, topmost first."""
    text = FIXTURE.read_text()
    fill = {
        "AUTHENTICATION_RESULTS": "".join(f"Authentication-Results: {r}\n" for r in results),
        "FROM": sender,
        "SUBJECT": subject,
        "ID": f"forged-{next(_ids)}",
    }
    for key, value in fill.items():
        text = text.replace("{{" + key + "}}", value)
    return text.encode()


# --- the rule, one mail at a time (no database) --------------------------------------------
@pytest.mark.parametrize(
    ("results", "sender", "verified"),
    [
        # nothing, or only what anyone can write
        ((), RUTH, False),
        (("attacker.example; dmarc=pass header.from=example.test",), RUTH, False),
        (("spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=example.test",), RUTH, False),  # no id
        # DMARC: pass for the From domain only
        ((f"{TRUSTED}; dmarc=pass (p=reject) header.from=example.test",), RUTH, True),
        ((f"{TRUSTED}; dmarc=fail (p=none) header.from=example.test",), RUTH, False),
        ((f"{TRUSTED}; dmarc=pass header.from=attacker.example",), RUTH, False),
        ((f"{TRUSTED}; dmarc=pass",), RUTH, False),  # which From it judged is not said
        (("MX.Tandem.Test 1; dmarc=pass header.from=example.test",), RUTH, True),
        # DKIM: the signing domain is the From domain or a parent of it
        ((f"{TRUSTED}; dkim=pass header.d=example.test header.s=s1",), RUTH, True),
        ((f"{TRUSTED}; dkim=pass header.d=example.test",), "<ruth@mail.example.test>", True),
        ((f"{TRUSTED}; dkim=pass header.d=mail.example.test",), RUTH, False),
        ((f"{TRUSTED}; dkim=pass header.d=badexample.test",), "<r@example.test>", False),
        ((f"{TRUSTED}; dkim=pass header.d=test",), RUTH, False),  # a single label
        ((f"{TRUSTED}; dkim=pass header.d=attacker.example",), RUTH, False),
        ((f"{TRUSTED}; dkim=pass header.i=@example.test header.b=abc",), RUTH, True),
        ((f"{TRUSTED}; dkim=fail header.d=example.test",), RUTH, False),
        # SPF: the envelope sender's domain, aligned the same way
        ((f"{TRUSTED}; spf=pass smtp.mailfrom=bounces@example.test",), RUTH, True),
        ((f"{TRUSTED}; spf=pass smtp.mailfrom=example.test",), RUTH, True),
        ((f"{TRUSTED}; spf=pass smtp.mailfrom=bounces@attacker.example",), RUTH, False),
        ((f"{TRUSTED}; spf=pass smtp.helo=mail.example.test",), RUTH, False),
        # only the topmost trusted header counts; others' pass and older ones are ignored
        (
            (
                f"{TRUSTED}; dmarc=fail header.from=example.test",
                "attacker.example; dmarc=pass header.from=example.test",
            ),
            RUTH,
            False,
        ),
        (
            (
                "attacker.example; dmarc=pass header.from=example.test",
                f"{TRUSTED}; dmarc=fail header.from=example.test",
            ),
            RUTH,
            False,
        ),
        (  # a forged header bearing our id, below the one our MTA wrote (not stripped)
            (
                f"{TRUSTED}; dmarc=fail header.from=example.test",
                f"{TRUSTED}; dmarc=pass header.from=example.test",
            ),
            RUTH,
            False,
        ),
        (
            (
                "attacker.example; dmarc=fail",
                f"{TRUSTED}; dmarc=pass header.from=example.test",
            ),
            RUTH,
            True,
        ),
        # an unreadable trusted header verifies nothing
        ((f"{TRUSTED}; dmarc=pass header.from=example.test; ;;;",), RUTH, False),
        # two From addresses: nobody can tell which one DMARC judged
        (
            (f"{TRUSTED}; dmarc=pass header.from=example.test",),
            "requester@example.test, ceo@example.test",
            False,
        ),
    ],
)
def test_the_sender_is_verified_only_by_the_trusted_mtas_results(
    results: tuple[str, ...], sender: str, verified: bool
) -> None:
    check = sender_verdict(mail_parse(forged(*results, sender=sender)), CHECKED)
    assert check.verified is verified, check.detail


def test_the_verdict_says_what_the_results_said() -> None:
    check = sender_verdict(mail_parse(forged()), CHECKED)
    assert check.detail == "no Authentication-Results from mx.tandem.test"
    raw = forged(
        f"{TRUSTED}; spf=pass smtp.mailfrom=x@attacker.example; dkim=none; "
        "dmarc=fail (p=reject) header.from=example.test",
        "attacker.example; dmarc=pass header.from=example.test",
    )
    check = sender_verdict(mail_parse(raw), CHECKED)
    assert check.detail == (
        "mx.tandem.test: spf=pass smtp.mailfrom=x@attacker.example, dkim=none, "
        "dmarc=fail header.from=example.test; nothing passes for example.test"
    )
    raw = forged("attacker.example; dmarc=pass header.from=example.test")
    assert sender_verdict(mail_parse(raw), CHECKED).detail == (
        "no Authentication-Results from mx.tandem.test; 1 from other hosts ignored"
    )


def test_a_mailbox_may_trust_several_mtas_and_one_without_any_trusts_nobody() -> None:
    both = MailboxConfig(name="s", maildir="/x", authserv_id="mx1.tandem.test, mx2.tandem.test")
    assert both.authserv_ids == ("mx1.tandem.test", "mx2.tandem.test")
    raw = forged("mx2.tandem.test; dmarc=pass header.from=example.test")
    assert sender_verdict(mail_parse(raw), both).verified
    nobody = MailboxConfig(name="s", maildir="/x")  # built in code, past the settings check
    check = sender_verdict(mail_parse(raw), nobody)
    assert not check.verified and "no authserv_id" in check.detail
    assert sender_verdict(mail_parse(forged()), UNCHECKED).verified


def test_alignment_is_the_same_domain_or_a_parent() -> None:
    assert aligned("mail.example.test", "Example.Test.")
    assert aligned("example.test", "bounce@example.test")
    assert not aligned("example.test", "mail.example.test")
    assert not aligned("notexample.test", "example.test")
    assert not aligned("example.test", "test")


# --- what a forged mail does (nothing) -------------------------------------------------------
@pytest.fixture
def mail_settings(settings):  # type: ignore[no-untyped-def]
    mail_addresses(settings)
    return settings


NOT_VERIFIED = [
    (),
    ("attacker.example; dmarc=pass header.from=example.test",),
    (f"{TRUSTED}; dmarc=fail (p=none dis=none) header.from=example.test",),
]


@pytest.mark.django_db
@pytest.mark.parametrize("results", NOT_VERIFIED)
def test_a_forged_mail_from_a_user_makes_nothing_and_is_not_answered(
    org, mail_settings, caplog, results
) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, logger="integrations.mail.receive"):
        row, fresh = receive.mail_receive(mailbox=CHECKED, raw=forged(*results))
    assert fresh and row.outcome == Outcome.REJECTED
    assert row.reason.startswith("sender not verified (")
    assert row.user is None and row.record is None
    assert not Incident.objects.exists()
    assert not OutboxMessage.objects.exists()  # no polite reply: that would be backscatter
    assert "sender not verified" in caplog.text and "requester@example.test" in caplog.text


@pytest.mark.django_db
def test_a_forged_reply_does_not_comment_as_the_requester(org, mail_settings) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(actor=org.requester, service=org.service, title="Pay")
    raw = forged(
        f"{TRUSTED}; dkim=pass header.d=attacker.example; dmarc=fail header.from=example.test",
        subject=f"RE: [{incident.key}] New reply: Pay",
    )
    row, _ = receive.mail_receive(mailbox=CHECKED, raw=raw)
    assert row.outcome == Outcome.REJECTED
    assert row.reason == (
        "sender not verified (mx.tandem.test: dkim=pass header.d=attacker.example, "
        "dmarc=fail header.from=example.test; nothing passes for example.test)"
    )
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_a_forged_order_to_the_request_alias_orders_nothing(org, mail_settings) -> None:  # type: ignore[no-untyped-def]
    CatalogItem.objects.create(name="New laptop", service=org.service, fulfilment_team=org.support)
    requests = MailboxConfig(name="requests", maildir="/x", makes="request", authserv_id=TRUSTED)
    row, _ = receive.mail_receive(mailbox=requests, raw=forged())
    assert row.outcome == Outcome.REJECTED
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("unknown", ["reject", "create"])
def test_a_forged_unknown_sender_gets_no_account_and_no_reply(org, mail_settings, unknown) -> None:  # type: ignore[no-untyped-def]
    mail_settings.MAIL_UNKNOWN_SENDER = unknown
    users = get_user_model().objects.count()
    row, _ = receive.mail_receive(mailbox=CHECKED, raw=forged(sender="<ceo@example.test>"))
    assert row.outcome == Outcome.REJECTED and row.reason.startswith("sender not verified")
    assert get_user_model().objects.count() == users
    assert not OutboxMessage.objects.exists() and not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "results",
    [
        f"{TRUSTED}; dmarc=pass (p=reject) header.from=example.test",
        f"{TRUSTED}; dkim=pass header.d=example.test",
        f"{TRUSTED}; spf=pass smtp.mailfrom=requester@example.test",
    ],
)
def test_a_verified_mail_acts_as_its_sender(org, mail_settings, results) -> None:  # type: ignore[no-untyped-def]
    row, _ = receive.mail_receive(mailbox=CHECKED, raw=forged(results))
    assert (row.outcome, row.user) == (Outcome.CREATED, org.requester)
    assert Incident.objects.get().requester == org.requester


@pytest.mark.django_db
def test_a_mailbox_with_the_check_off_takes_the_from_as_it_is(org, mail_settings) -> None:  # type: ignore[no-untyped-def]
    row, _ = receive.mail_receive(mailbox=UNCHECKED, raw=forged())
    assert (row.outcome, row.user) == (Outcome.CREATED, org.requester)


# --- configuration ---------------------------------------------------------------------------
def test_a_checked_mailbox_without_an_authserv_id_is_refused_at_start(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAIL_MAILBOXES = [{"name": "support", "imap_host": "imap.example.test"}]
    with pytest.raises(ImproperlyConfigured, match="needs authserv_id"):
        mailboxes()
    [error] = check_mailboxes()
    assert error.id == "tandem.E151" and "support" in error.msg
    settings.MAIL_MAILBOXES = [{"name": "s", "maildir": "/x", "sender_check": "spf"}]
    assert "'authenticated' or 'off'" in check_mailboxes()[0].msg
    settings.MAIL_MAILBOXES = [{"name": "s", "maildir": "/x", "authserv_id": 7}]
    assert "authserv_id is a name or a list" in check_mailboxes()[0].msg
    settings.MAIL_MAILBOXES = [
        {"name": "s", "imap_host": "imap.example.test", "authserv_id": ["MX.example.test"]}
    ]
    assert check_mailboxes() == []
    assert mailboxes()[0].authserv_ids == ("mx.example.test",)


def test_the_embedded_demo_mailbox_has_the_check_off() -> None:
    """``make run``'s Maildir, fed by hand, has no MTA to stamp its mail."""
    from config import settings as defaults

    if "MAIL_MAILBOXES" not in os.environ:
        [demo] = defaults.MAIL_MAILBOXES
        assert demo["sender_check"] == "off"
    assert check_mailboxes() == []
