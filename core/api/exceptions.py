"""The one DRF exception handler: every API error answers in one JSON shape.

    {"code": "invalid", "message": "reason: This field is required.",
     "fields": {"reason": ["This field is required."]}, "detail": "<the message again>"}

``code`` is a stable machine word (DRF's own codes: ``invalid``, ``parse_error``,
``not_authenticated``, ``permission_denied``, ``not_found``, ``method_not_allowed``,
``unsupported_media_type``, ``throttled``; ours: ``conflict``, ``illegal_transition``,
``in_use``, ``database_unavailable``, ``server_error``, ...); ``message`` is one sentence
for a person; ``fields`` names the inputs at fault (``{}`` when none); ``detail`` repeats
``message`` for the clients and tests written against DRF's ``{"detail": ...}``.

The same body is written by ``error_body`` for answers made outside DRF (the 404/500
handlers and middleware in ``core.errors``), so a client never meets another shape.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core import signals
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest
from django.utils.text import capfirst
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import DATABASE_RETRY_AFTER, request_id_of
from core.exceptions import DomainError, error_body

__all__ = ["error_body", "error_response", "exception_handler"]

logger = logging.getLogger("tandem.errors")


def error_response(
    code: str,
    message: str,
    status_code: int,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A DRF ``Response`` carrying ``error_body`` (for views that answer an error directly)."""
    return Response(error_body(code, message, fields), status=status_code, headers=headers)


def _first_message(value: Any) -> str:
    """The first human message inside DRF's nested error detail."""
    if isinstance(value, dict):
        for item in value.values():
            found = _first_message(item)
            if found:
                return found
        return ""
    if isinstance(value, list | tuple):
        for item in value:
            found = _first_message(item)
            if found:
                return found
        return ""
    return str(value)


def _plain(value: Any) -> Any:
    """DRF's ``ErrorDetail`` tree as plain lists, dicts and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def validation_message(fields: dict[str, Any]) -> str:
    """One sentence naming the first field at fault (and how many others)."""
    if not fields:
        return "Invalid input."
    name = next(iter(fields))
    first = _first_message(fields[name]) or "Invalid value."
    label = "" if name in ("non_field_errors", "__all__") else f"{name}: "
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return f"{label}{first}{more}"


def protected_message(obj: object, exc: ProtectedError | RestrictedError) -> str:
    """'Team 'App Support' is used by 3 services and 12 incidents; ...' from the rows that
    stop the delete, grouped by their model, with the way out (retire, or detach first)."""
    counts: dict[str, int] = {}
    names: dict[str, tuple[str, str]] = {}
    for row in exc.protected_objects:
        meta = row._meta
        key = meta.label
        counts[key] = counts.get(key, 0) + 1
        names[key] = (str(meta.verbose_name), str(meta.verbose_name_plural))
    parts = []
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        singular, plural = names[key]
        parts.append(f"{count} {singular if count == 1 else plural}")
    used_by = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    what = f"{capfirst(obj._meta.verbose_name)} '{obj}'" if obj is not None else "This record"  # type: ignore[attr-defined]
    way_out = (
        "retire it instead (set is_active to false)"
        if obj is not None and any(f.name == "is_active" for f in obj._meta.get_fields())  # type: ignore[attr-defined]
        else "move what uses it elsewhere first, or keep it"
    )
    return f"{what} is used by {used_by}; it cannot be deleted: {way_out}."


def _protected_owner(exc: ProtectedError | RestrictedError) -> object | None:
    """The record whose delete was refused: Django puts it in the message's repr only, so
    find it among the protected rows' foreign keys (the one they all point at)."""
    rows = list(exc.protected_objects)
    if not rows:
        return None
    # Django's message: "Cannot delete some instances of model 'Team' because they are
    # referenced through protected foreign keys: 'Service.support_team', ..."
    for row in rows[:1]:
        for field in row._meta.concrete_fields:
            if field.is_relation and field.many_to_one:
                label = f"'{row._meta.object_name}.{field.name}'"
                if label in exc.args[0]:
                    return getattr(row, field.name, None)
    return None


def protected_body(exc: ProtectedError | RestrictedError) -> dict[str, Any]:
    owner = _protected_owner(exc)
    used_by: dict[str, int] = {}
    for row in exc.protected_objects:
        label = str(row._meta.verbose_name_plural)
        used_by[label] = used_by.get(label, 0) + 1
    return error_body("in_use", protected_message(owner, exc), used_by=used_by)


def database_unavailable_body() -> dict[str, Any]:
    return error_body(
        "database_unavailable",
        "The database cannot be reached just now; try again in a moment.",
    )


def server_error_body(request_id: str) -> dict[str, Any]:
    return error_body(
        "server_error",
        f"Something went wrong on our side; it has been logged as {request_id}.",
        request_id=request_id,
    )


def _reshape(response: Response, exc: Exception) -> Response:
    """DRF's answer (``{"detail": ...}`` or a field dict) in ``error_body``'s shape."""
    data = response.data
    if isinstance(exc, drf_exceptions.ValidationError):
        if isinstance(data, dict):
            fields = _plain(data)
            response.data = error_body("invalid", validation_message(fields), fields)
        else:
            message = _first_message(data) or "Invalid input."
            response.data = error_body("invalid", message)
        return response
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, drf_exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    elif response.status_code == status.HTTP_404_NOT_FOUND:
        code = "not_found"
    elif response.status_code == status.HTTP_403_FORBIDDEN:
        code = "permission_denied"
    message = _first_message(data) if not isinstance(data, dict) else str(data.get("detail", ""))
    response.data = error_body(code, message or "Error.")
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, TransitionNotAllowed):
        return error_response("illegal_transition", str(exc), status.HTTP_409_CONFLICT)
    if isinstance(exc, ConcurrentTransition):
        return error_response(
            "conflict",
            "The record was changed by someone else; reload and try again.",
            status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        message = (
            "; ".join(exc.messages)
            if not hasattr(exc, "error_dict")
            else validation_message(fields)
        )
        return error_response("invalid", message, status.HTTP_400_BAD_REQUEST, fields)
    if isinstance(exc, ProtectedError | RestrictedError):
        set_rollback()
        return Response(protected_body(exc), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, OperationalError | InterfaceError):
        set_rollback()
        logger.warning("database unavailable: %s", exc)
        return Response(
            database_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            "too_large", "The request body is too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, SuspiciousOperation | BadRequest):  # Django's own 400s
        return error_response("invalid", "The request could not be read.", 400)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return _reshape(response, exc)
    request = context.get("request")
    return unhandled_response(exc, getattr(request, "_request", request))


def unhandled_response(exc: Exception, request: HttpRequest | None) -> Response:
    """A JSON 500 with a request id for an exception no handler knows, logged with its
    traceback under that id; the test client still re-raises it (as Django does)."""
    set_rollback()
    rid = request_id_of(request)
    logger.error(
        "unhandled %s [%s] on %s",
        type(exc).__name__,
        rid,
        getattr(request, "path", "?"),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    signals.got_request_exception.send(sender=None, request=request)
    return Response(
        server_error_body(rid),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        headers={"X-Request-ID": rid},
    )
