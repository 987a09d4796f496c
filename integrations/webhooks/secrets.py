"""Webhook signing secrets: made, kept encrypted, and used to sign (Standard Webhooks).

A secret reads ``whsec_<base64 of 32 random bytes>``, as the Standard Webhooks
specification writes them. Tandem must read it back to sign every delivery (unlike a
personal token, whose hash is enough), so it is stored encrypted with Fernet under a key
derived from ``SECRET_KEY`` (and the keys of ``SECRET_KEY_FALLBACKS``, so rotating
``SECRET_KEY`` the Django way keeps old secrets readable). A database dump alone does not
reveal the secrets; the server's settings and the dump together do.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as random
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from standardwebhooks import Webhook

PREFIX = "whsec_"
_CONTEXT = b"tandem.integrations.webhook-secret."


def new_secret() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def _fernet_for(key: str) -> Fernet:
    digest = hashlib.sha256(_CONTEXT + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(k) for k in keys])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a key this server no longer has."""


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The signing secret cannot be decrypted (SECRET_KEY changed without keeping "
            "the old one in SECRET_KEY_FALLBACKS): rotate the subscription's secret."
        ) from exc


def signature(secrets: list[str], *, msg_id: str, timestamp: datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space-separated
    (a receiver accepts the message when any of them verifies)."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets)
