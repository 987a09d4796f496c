"""Domain errors. Services raise them; one DRF handler and one page mixin turn them into
HTTP answers with a message (400, 403, 404, 409)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or ({field: [message]} if field else {})

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"detail": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


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
