"""Celery tasks of the integrations: take ids (or nothing), call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.tasks.mail_fetch")
def mail_fetch() -> int:
    """Read the support mailboxes (beat: ``MAIL_FETCH_SECONDS``). Safe to run twice at
    once: each mail is processed once (``InboundMail``'s unique Message-ID)."""
    from integrations.mail.receive import mail_fetch as fetch

    return fetch().processed


@shared_task(name="integrations.tasks.connectors_poll")
def connectors_poll() -> dict[str, int]:
    """Beat (CONNECTOR_POLL_SECONDS): each active connector's catch-up poll, for what a
    missed webhook would have carried. Safe to run twice (what agrees is not re-applied)."""
    from integrations.services.connectors import connectors_poll_all

    return {name: r.changed for name, r in connectors_poll_all().items()}


@shared_task(name="integrations.tasks.connector_deliveries_purge")
def connector_deliveries_purge() -> int:
    """Beat, daily: the inbound connector webhooks' log past
    ``CONNECTOR_DELIVERY_RETENTION_DAYS``, deleted in bounded batches. Safe to run twice."""
    from integrations.services.connectors import inbound_deliveries_purge

    return inbound_deliveries_purge()
