"""Personal API tokens: create, revoke, list (the profile page and ``/api/v1/tokens/`` call
these) and check one presented to the API (``core.api.tokens``).

A token reads ``tdm_<lookup>_<secret>``: ``tdm_`` says whose it is (a leaked one is easy to
spot in logs and scanners), ``<lookup>`` (10 hex digits) finds the row and names the token
in lists, ``<secret>`` (32 random bytes) is known only to its holder. Only the SHA-256 of
the whole token is stored: a fast hash is enough for 256 random bits (nothing to guess,
unlike a password), and it keeps each API call cheap.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core.exceptions import NotFound, ValidationFailed
from core.models import PersonalToken, TokenScope
from core.roles import is_administrator
from core.services import audit_record

TOKEN_PREFIX = "tdm_"
_LOOKUP_HEX = 10
# "tdm_" + lookup: the part kept in the clear, shown in lists (never enough to use the token).
_SHOWN = len(TOKEN_PREFIX) + _LOOKUP_HEX
NAME_MAX = 100


class TokenRefused(Exception):
    """The presented token does not authenticate; the message says why, to its holder."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def max_days() -> int | None:
    """The longest life a new token may have (None: no limit)."""
    days = settings.API_TOKEN_MAX_DAYS
    return days if days > 0 else None


# --- Reads ----------------------------------------------------------------------------


def tokens_of(user: AbstractBaseUser) -> models.QuerySet[PersonalToken]:
    """A person's tokens, newest first, revoked ones too (their history is theirs)."""
    return PersonalToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_status(token: PersonalToken, now: datetime.datetime | None = None) -> str:
    """ "active", "expired" or "revoked", for lists."""
    now = now or timezone.now()
    if token.revoked_at:
        return "revoked"
    if token.expires_at and token.expires_at <= now:
        return "expired"
    return "active"


# --- Writes ---------------------------------------------------------------------------


def token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    scope: str,
    expires_at: datetime.datetime | None,
    actor: AbstractBaseUser,
) -> tuple[PersonalToken, str]:
    """Create a token for ``user`` and return it with its secret, which is never shown again.

    Preconditions: one creates tokens only for oneself (``actor`` is ``user``); a name not
    used by another of their tokens in force; scope read or write; an expiry in the future
    and, when API_TOKEN_MAX_DAYS is set, within that many days (none given: the longest
    allowed). Writes one audit row ("created") on the token; no other side effect."""
    if actor.pk != user.pk:
        raise ValidationFailed("You can create tokens only for yourself.")
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the token a name, so you can tell it apart later."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    if scope not in TokenScope.values:
        errors["scope"] = [f"Choose one of: {', '.join(TokenScope.values)}."]
    now = timezone.now()
    limit = max_days()
    if expires_at is None and limit:
        expires_at = now + datetime.timedelta(days=limit)
    elif expires_at is not None:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at <= now:
            errors["expires_at"] = ["The expiry must be in the future."]
        elif limit and expires_at > now + datetime.timedelta(days=limit, minutes=1):
            errors["expires_at"] = [f"A token may live at most {limit} days."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)

    raw = f"{TOKEN_PREFIX}{secrets.token_hex(_LOOKUP_HEX // 2)}_{secrets.token_urlsafe(32)}"
    try:
        with transaction.atomic():
            if PersonalToken.objects.filter(user=user, name=name, revoked_at=None).exists():
                raise ValidationFailed("You already have a token with this name.", field="name")
            token = PersonalToken.objects.create(
                user=user,
                name=name,
                scope=scope,
                prefix=raw[:_SHOWN],
                digest=_digest(raw),
                expires_at=expires_at,
            )
            audit_record(
                target=token,
                actor=actor,
                action="created",
                changes={
                    "name": (None, name),
                    "scope": (None, scope),
                    "expires_at": (None, expires_at),
                },
            )
    except IntegrityError as exc:  # two creates with one name at once
        raise ValidationFailed("You already have a token with this name.", field="name") from exc
    return token, raw


def may_revoke(actor: AbstractBaseUser, token: PersonalToken) -> bool:
    """Its owner, or an administrator (a leaked token must be stoppable without its owner)."""
    return token.user_id == actor.pk or is_administrator(actor)


def token_revoke(*, token_id: int, actor: AbstractBaseUser) -> PersonalToken:
    """Revoke a token; from then on it authenticates nothing.

    Preconditions: ``may_revoke``; a token the actor may not revoke is a 404 (as if it did
    not exist). Revoking a revoked token changes nothing and writes nothing. Writes one
    audit row ("revoked") on the token, naming the actor (the owner or an administrator)."""
    with transaction.atomic():
        token = PersonalToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None or not may_revoke(actor, token):
            raise NotFound("No such token.")
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            target=token,
            actor=actor,
            action="revoked",
            changes={"revoked_at": (None, token.revoked_at)},
        )
    return token


# --- Authentication -------------------------------------------------------------------


def token_check(raw: str) -> PersonalToken:
    """The token in force that ``raw`` is, with its user; ``TokenRefused`` otherwise."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) <= _SHOWN + 1 or raw[_SHOWN] != "_":
        raise TokenRefused("Invalid token.")
    token = PersonalToken.objects.select_related("user").filter(prefix=raw[:_SHOWN]).first()
    # Compared in constant time, so the answer's timing tells nothing of the digest.
    if token is None or not hmac.compare_digest(token.digest, _digest(raw)):
        raise TokenRefused("Invalid token.")
    if token.revoked_at is not None:
        raise TokenRefused("This token has been revoked.")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("This token has expired.")
    if not token.user.is_active:
        raise TokenRefused("The account of this token is inactive.")
    return token


def token_mark_used(token: PersonalToken) -> None:
    """Note that the token was just used: at most one write per token a minute (the row is
    only updated when its last use is older), so a busy client costs no write per call."""
    now = timezone.now()
    every = datetime.timedelta(seconds=settings.API_TOKEN_LAST_USED_EVERY_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < every:
        return
    # Conditional: of two requests at once, one writes.
    PersonalToken.objects.filter(pk=token.pk).filter(
        models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=now - every)
    ).update(last_used_at=now)
    token.last_used_at = now


def scope_allows(token: PersonalToken, method: str) -> bool:
    """A read-scope token reads (GET, HEAD, OPTIONS); a write-scope token does all its user may."""
    return token.scope == TokenScope.WRITE or method.upper() in ("GET", "HEAD", "OPTIONS")
