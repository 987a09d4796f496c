"""The integrations' records: webhook subscriptions, connectors, mailboxes and what they
delivered or received. Each family in its own module, imported here."""

from integrations.models.webhooks import (  # noqa: F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
