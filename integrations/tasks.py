"""Celery tasks of the integrations: take ids (or nothing), call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.tasks.mail_fetch")
def mail_fetch() -> int:
    """Read the support mailboxes (beat: ``MAIL_FETCH_SECONDS``). Safe to run twice at
    once: each mail is processed once (``InboundMail``'s unique Message-ID)."""
    from integrations.mail.receive import mail_fetch as fetch

    return fetch().processed
