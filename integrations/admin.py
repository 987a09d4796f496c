"""The integrations' admin pages (subscriptions, connectors, mailboxes)."""
