"""Who may do what with the integrations, as plain functions over ``core.matrix``."""

from __future__ import annotations

from typing import Any

from core import matrix
from core.roles import is_administrator

WEBHOOK = "webhook subscription"


def can_manage_webhooks(user: Any) -> bool:
    """See, create, change and act on webhook subscriptions (Administrators: a subscription
    sends records out of Tandem as its owner sees them)."""
    return matrix.allows(user, WEBHOOK, "update")


def can_allow_private_receivers(user: Any) -> bool:
    """Only an administrator lets a subscription reach a private network."""
    return is_administrator(user)
