"""Where a connector's credentials live.

The API token is either stored encrypted (Fernet, AES-128-CBC with an HMAC, from the
``cryptography`` package) with a key derived from ``SECRET_KEY``, or not stored at all:
``api_token_setting`` names an entry of ``settings.CONNECTOR_CREDENTIALS`` (a JSON object
in the environment variable of the same name). The webhook secret is stored encrypted the
same way (Tandem must read it back to verify signatures). A database dump alone reveals
neither; rotating ``SECRET_KEY`` means entering them again (the admin page says so).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from core.exceptions import ValidationFailed

_PURPOSE = b"tandem.integrations.connectors.credentials:"


def _fernet() -> Fernet:
    # a key of its own for this purpose, never SECRET_KEY itself (sessions sign with it)
    digest = hashlib.sha256(_PURPOSE + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise ValidationFailed(
            "A stored connector secret cannot be read (SECRET_KEY changed?); enter it again.",
            field="api_token",
        ) from exc


def api_token(connector) -> str:  # type: ignore[no-untyped-def]
    if connector.api_token_setting:
        found = (getattr(settings, "CONNECTOR_CREDENTIALS", None) or {}).get(
            connector.api_token_setting
        )
        if not found:
            raise ValidationFailed(
                f"CONNECTOR_CREDENTIALS has no entry {connector.api_token_setting!r}.",
                field="api_token_setting",
            )
        return str(found)
    return decrypt(connector.api_token_encrypted)


def webhook_secret(connector) -> str:  # type: ignore[no-untyped-def]
    return decrypt(connector.webhook_secret_encrypted)
