"""Domain errors. Services raise them; one DRF handler and one page mixin turn them into
HTTP answers with a message (400, 403, 404, 409)."""

from __future__ import annotations

from typing import Any


def error_body(
    code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of every API error, whoever answers it (the DRF handler, the 404/500
    handlers, a middleware): ``code`` a stable machine word, ``message`` one sentence for a
    person, ``fields`` the inputs at fault (``{}`` when none) and ``detail`` the message
    again, for clients written against DRF's ``{"detail": ...}``. ``extra`` adds keys a
    particular error carries (``request_id``, ``used_by``)."""
    body: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    body["detail"] = message
    body.update(extra)
    return body


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or ({field: [message]} if field else {})

    def as_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.errors)


class ValidationFailed(DomainError):
    """Missing or bad input; ``errors`` names the fields."""

    status_code = 400
    code = "invalid"


class ActionForbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class IllegalTransition(DomainError):
    """The transition exists but cannot fire from the ticket's current state."""

    status_code = 409
    code = "illegal_transition"


class ConflictError(DomainError):
    """Somebody else changed the record first."""

    status_code = 409
    code = "conflict"
