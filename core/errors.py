"""Errors answered outside DRF's views: the request id, the API's guard against HTML error
pages, the database-outage answer (503 with ``Retry-After``), the "in use" answer (409)
for page views, and the 400/403/404/500 handlers (JSON under ``/api/``, the site's
friendly pages elsewhere). DRF's views answer through ``core.api.exceptions``; both write
``core.exceptions.error_body``.
"""

from __future__ import annotations

import http
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework.response import Response

from core.exceptions import error_body

logger = logging.getLogger("tandem.errors")

API_PREFIX = "/api/"
# Seconds a client should wait before retrying when the database cannot be reached.
DATABASE_RETRY_AFTER = 30
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The code of an error answer that only has a status (a page Django made, a bare 404).
STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def is_api(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith(API_PREFIX)


def request_id_of(request: HttpRequest | None) -> str:
    """The request's id: a proxy's ``X-Request-ID`` when it is a plain token, else a new one
    (kept on the request so the log line and the answer name the same id)."""
    if request is None:
        return uuid.uuid4().hex[:16]
    rid = getattr(request, "request_id", None)
    if not rid:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex[:16]
        request.request_id = rid  # type: ignore[attr-defined]
    return rid


def _status_message(status_code: int) -> str:
    try:
        return f"{http.HTTPStatus(status_code).phrase}."
    except ValueError:
        return "Error."


def json_error(
    request: HttpRequest | None,
    status_code: int,
    message: str | None = None,
    *,
    code: str | None = None,
    **extra: Any,
) -> JsonResponse:
    body = error_body(
        code or STATUS_CODES.get(status_code, "error"),
        message or _status_message(status_code),
        **extra,
    )
    return JsonResponse(body, status=status_code)


def database_unavailable(request: HttpRequest | None) -> HttpResponse:
    """503 with ``Retry-After``: JSON under /api/, a page that needs no database elsewhere."""
    if is_api(request):
        response: HttpResponse = json_error(
            request,
            503,
            "The database cannot be reached just now; try again in a moment.",
            code="database_unavailable",
        )
    else:
        html = loader.get_template("503.html").render({"retry_after": DATABASE_RETRY_AFTER})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def in_use(request: HttpRequest, exc: ProtectedError | RestrictedError) -> HttpResponse:
    """409 naming what still uses the record a page tried to delete."""
    from core.api.exceptions import protected_body
    from core.exceptions import ConflictError

    body = protected_body(exc)
    if is_api(request):
        return JsonResponse(body, status=409)
    from core.views import render_domain_error

    error = ConflictError(body["message"])
    return render_domain_error(request, error)


class ErrorMiddleware:
    """Every request gets an id (``X-Request-ID`` on the answer). A page view's database
    outage answers 503 and its refused delete 409 (DRF views have their own handler).
    Under /api/ no error leaves as HTML: a page Django made (a 404 for an unknown URL, the
    debug pages, a CSRF refusal) is replaced by the JSON shape, in development as in
    production."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id_of(request)
        response = self.get_response(request)
        if (
            is_api(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
            and not getattr(response, "streaming", False)
            # DRF rendered it: the browsable API (a browser's Accept) shows the same body
            and not isinstance(response, Response)
        ):
            replaced = json_error(request, response.status_code, _text_of(response))
            for header in ("Retry-After", "WWW-Authenticate", "Allow"):
                if header in response:
                    replaced[header] = response[header]
            if response.status_code >= 500:
                replaced.content = json.dumps(
                    error_body(
                        STATUS_CODES.get(response.status_code, "server_error"),
                        f"Something went wrong on our side; it has been logged as {rid}.",
                        request_id=rid,
                    )
                ).encode()
            response = replaced
        response.setdefault("X-Request-ID", rid)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, OperationalError | InterfaceError):
            logger.warning("database unavailable [%s]: %s", request_id_of(request), exc)
            return database_unavailable(request)
        if isinstance(exc, ProtectedError | RestrictedError):
            return in_use(request, exc)
        return None


def _text_of(response: HttpResponse) -> str | None:
    """A short plain-text body (a middleware's own refusal) kept as the message; an HTML
    page's text is not (it would be markup, or the debug page)."""
    if response.get("Content-Type", "").startswith("text/plain"):
        text = response.content.decode(errors="replace").strip()
        if text and len(text) <= 500:
            return text
    return None


# --- handler400/403/404/500 (config/urls.py) -------------------------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(request, 400, str(exception) or None)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(request, 403, str(exception) or None)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(request, 404, "No such address in the API.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """An exception nobody handled (called inside Django's ``except``): a database outage is
    a 503, anything else a 500 with the request id; the page needs no database."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(request)
    rid = request_id_of(request)
    logger.error("unhandled %s [%s] on %s", type(exc).__name__, rid, request.path)
    if is_api(request):
        response = json_error(
            request,
            500,
            f"Something went wrong on our side; it has been logged as {rid}.",
            code="server_error",
            request_id=rid,
        )
    else:
        html = loader.get_template("500.html").render({"request_id": rid})
        response = HttpResponse(html, status=500)
    response["X-Request-ID"] = rid
    return response
