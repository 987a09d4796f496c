"""The integrations' records: webhook subscriptions, connectors, mailboxes and what they
delivered or received. Each family in its own module, imported here."""

from integrations.models.connectors import (  # noqa: E402, F401
    DIRECTIONS_HELP,
    Connector,
    ConnectorMapping,
    InboundDelivery,
    RemoteComment,
    RemoteLink,
)
from integrations.models.mail import InboundMail  # noqa: E402,F401
from integrations.models.webhooks import (  # noqa: F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
