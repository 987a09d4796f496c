"""The front door: sign-in lock-out (django-axes) and the audit rows of sign-ins.

Lock-out: failures are counted per username and per client address over the cool-off
window (settings ``SIGNIN_*``); while either count is at its limit every sign-in with a
password is refused before any password is checked (``LockoutBackend`` comes first in
AUTHENTICATION_BACKENDS), the right password too, and the refused try restarts the
cool-off. The sign-in page and ``/api/v1/auth/token/`` answer 429 with a message.

Audit: a sign-in, a failed sign-in (the username tried and the address, never the
password), a lock-out. These come from Django's own auth signals (``user_logged_in``,
``user_login_failed``) and axes' ``user_locked_out``: the sign-in is Django's code, not a
Tandem service, so a signal is the only place to hear it (docs/decisions.md, Issue 14).
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import ErrorSerializer
from core.exceptions import error_body
from core.services import audit_record

USERNAME_SHOWN = 150  # the longest username Django allows; longer tries are cut


# --- Lock-out -------------------------------------------------------------------------


class LockoutBackend(AxesStandaloneBackend):
    """axes' backend (refuses a locked-out username or address before any password is
    checked), noting on the request that it refused, so the audit can tell a try made
    while locked out from the one that caused the lock-out."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            request.tandem_refused_locked = True
            raise


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per username (AXES_FAILURE_LIMIT) and a higher
    one per address (SIGNIN_ADDRESS_FAILURE_LIMIT): axes compares one count with one limit,
    so the address's count is scaled to the username's limit (locked at the address limit
    exactly: floor(n * L_user / L_address) >= L_user  <=>  n >= L_address)."""

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        by_user, by_address = self.get_user_attempts(request, credentials)
        user_failures = 0
        # No username (single sign-on's callback): not one shared "nobody" to lock.
        if get_client_username(request, credentials):
            user_failures = by_user.aggregate(n=Sum("failures_since_start"))["n"] or 0
        address_failures = by_address.aggregate(n=Sum("failures_since_start"))["n"] or 0
        limit = settings.AXES_FAILURE_LIMIT
        return max(user_failures, address_failures * limit // settings.SIGNIN_ADDRESS_FAILURE_LIMIT)


def client_address(request: Any) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: who is knocking. Without trusted proxies, the socket's peer
    (REMOTE_ADDR): a client's own X-Forwarded-For is ignored, else each forged address
    would start a fresh count. Behind N trusted proxies that each append what they saw,
    the chain is X-Forwarded-For + REMOTE_ADDR and the client is the N-th from its right."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.SIGNIN_TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [part.strip() for part in forwarded.split(",") if part.strip()]
    chain.append(remote or "")
    candidate = chain[-(proxies + 1)] if len(chain) > proxies else chain[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: count the nearest one we can trust
        return remote


def lockout_minutes() -> int:
    cool_off = get_cool_off()
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message() -> str:
    minutes = lockout_minutes()
    if not minutes:
        return "Too many failed sign-ins; ask an administrator to unlock the account."
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-ins; try again in {minutes} {unit} or ask an administrator."


def lockout_json() -> JsonResponse:
    """The API's answer to a locked-out sign-in: 429, the message, and when to come back."""
    response = JsonResponse(error_body("locked_out", lockout_message()), status=429)
    if lockout_minutes():
        response["Retry-After"] = str(lockout_minutes() * 60)
    return response


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page's sign-in form again, with the message (429); JSON for
    the API and for scripts that ask for it."""
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return lockout_json()
    context = {
        "form": AuthenticationForm(request),
        "locked_out": lockout_message(),
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)


class ObtainAuthTokenView(ObtainAuthToken):
    """``/api/v1/auth/token/``: DRF's shared token for a username and password (kept for
    the demo and existing scripts), behind the same lock-out as the sign-in page, and
    written to the audit trail as a sign-in."""

    @extend_schema(
        request=inline_serializer(
            "AuthTokenRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={
            200: inline_serializer("AuthToken", {"token": serializers.CharField()}),
            400: OpenApiResponse(ErrorSerializer, description="Wrong username or password."),
            429: OpenApiResponse(
                ErrorSerializer, description="Locked out after too many failed sign-ins."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response | JsonResponse:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):
                return lockout_json()
            raise ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        signin_record(user=user, request=request, via="API token")
        return Response({"token": token.key})


# --- Audit ----------------------------------------------------------------------------


def _address(request: Any) -> str | None:
    if request is None:
        return None
    return client_address(request)


def signin_record(*, user: AbstractBaseUser, request: Any, via: str = "") -> None:
    """One audit row "signed_in" on the user: who, from which address, how."""
    with transaction.atomic():
        audit_record(
            target=user,
            actor=user,
            action="signed_in",
            changes={"address": (None, _address(request))},
            comment=via,
        )


def _on_signed_in(sender: Any, request: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
    # The backend that let them in (set by django.contrib.auth.authenticate): a directory
    # sign-in says so, since the password it checked is not Tandem's.
    via = "LDAP" if getattr(user, "backend", "") == "core.sso.ldap.TandemLDAPBackend" else ""
    signin_record(user=user, request=request, via=via)


def _account(tried: str) -> AbstractBaseUser | None:
    User = get_user_model()
    return User._default_manager.filter(**{User.USERNAME_FIELD: tried}).first() if tried else None


def _on_sign_in_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    """One audit row "sign_in_failed": on the account tried when it exists (else on no
    account: object id 0), with the username tried and the address; no password. Then the
    "locked_out" row, when this failure is the one that locked."""
    User = get_user_model()
    tried = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")
    tried = tried[:USERNAME_SHOWN]
    refused = bool(getattr(request, "tandem_refused_locked", False))
    with transaction.atomic():
        audit_record(
            target=_account(tried) or User(pk=0),
            actor=None,
            action="sign_in_failed",
            changes={"username": (None, tried), "address": (None, _address(request))},
            comment="Refused: locked out." if refused else "Wrong username or password.",
        )
    if request is None:
        return
    request.tandem_failure_audited = True
    locked = getattr(request, "tandem_locked_now", None)
    if locked:
        _locked_out_record(*locked)


def _on_locked_out(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """One audit row "locked_out" when a failure reaches a limit, after that failure's own
    row; axes says so again for every try while locked out, and those are failed sign-ins
    already."""
    if getattr(request, "tandem_refused_locked", False):
        return
    if getattr(request, "tandem_failure_audited", False):
        _locked_out_record(username, ip_address)
    else:  # axes heard the failure first: written after the failure's row
        request.tandem_locked_now = (username, ip_address)


def _locked_out_record(username: str | None, ip_address: str | None) -> None:
    tried = (username or "")[:USERNAME_SHOWN]
    with transaction.atomic():
        audit_record(
            target=_account(tried) or get_user_model()(pk=0),
            actor=None,
            action="locked_out",
            changes={"username": (None, tried), "address": (None, ip_address)},
            comment=lockout_message(),
        )


def connect() -> None:
    """Called once from ``CoreConfig.ready``."""
    from axes.signals import user_locked_out

    user_logged_in.connect(_on_signed_in, dispatch_uid="tandem-signed-in")
    user_login_failed.connect(_on_sign_in_failed, dispatch_uid="tandem-sign-in-failed")
    user_locked_out.connect(_on_locked_out, dispatch_uid="tandem-locked-out")
