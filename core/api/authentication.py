"""The authentication class of personal API tokens (``core.tokens``). Its own module: the
REST framework's settings import it while ``rest_framework.views`` loads, so it must not
import views itself."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

from core import tokens
from core.models import PersonalToken


class PersonalTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``, or ``Token <token>`` when the token is a personal
    one (``tdm_…``); any other ``Token`` header is left to DRF's TokenAuthentication (the
    shared demo token of ``/api/v1/auth/token/``).

    An unknown, expired or revoked token is a 401. A read-scope token used with a method
    that writes is refused here, for every view whatever its own permission classes
    (a default permission class would be skipped by views that name theirs): 403."""

    def authenticate(self, request: Request) -> tuple[Any, PersonalToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in (b"bearer", b"token"):
            return None
        bearer = parts[0].lower() == b"bearer"
        if len(parts) != 2:
            if not bearer:
                return None  # TokenAuthentication answers for its own header
            raise AuthenticationFailed("Invalid Bearer header: give exactly one token.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        if not bearer and not raw.startswith(tokens.TOKEN_PREFIX):
            return None
        try:
            token = tokens.token_check(raw)
        except tokens.TokenRefused as exc:
            raise AuthenticationFailed(str(exc)) from exc
        if not tokens.scope_allows(token, request.method or "GET"):
            raise PermissionDenied(
                "This token is read-only: it cannot change anything. "
                "Use a token with the write scope."
            )
        tokens.token_mark_used(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
