"""What every ticket service shares: lock, check, fire, save, audit, SLA, in one
transaction. Incidents, problems, requests and changes all go through ``transitioning``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django_fsm import ConcurrentTransition

from core.exceptions import ConflictError, ValidationFailed
from core.models import AuditEvent
from core.services import audit_record
from sla.services import clocks_sync

T = TypeVar("T", bound=models.Model)
Actor = AbstractBaseUser | None
Ensure = Callable[[Actor, Any, str], None]


def ticket_link(ticket: Any) -> str:
    return f"{settings.TANDEM_BASE_URL}{ticket.get_absolute_url()}"


def snapshot(ticket: Any) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in ticket.AUDITED_FIELDS}


def diff(ticket: Any, before: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    after = snapshot(ticket)
    return {k: (before[k], after[k]) for k in ticket.AUDITED_FIELDS if before[k] != after[k]}


def created_changes(ticket: Any) -> dict[str, tuple[Any, Any]]:
    """The audited fields a new ticket starts with, as changes from nothing."""
    return {
        f: (None, getattr(ticket, f))
        for f in ticket.AUDITED_FIELDS
        if getattr(ticket, f) not in (None, "", False)
    }


def lock(ticket: T) -> T:
    return type(ticket).objects.select_for_update().get(pk=ticket.pk)


def require(value: Any, field: str, message: str) -> None:
    if value in (None, ""):
        raise ValidationFailed(message, field=field)


def ensure_editable(fields: Iterable[str], editable: Iterable[str]) -> None:
    """400 naming every field an edit may not change (the lifecycle owns state, keys...)."""
    unknown = set(fields) - set(editable)
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be edited: {', '.join(sorted(unknown))}.",
            errors={f: ["This field cannot be edited."] for f in unknown},
        )


def choice(value: str, choices: type, field: str) -> str:
    if value not in choices.values:  # type: ignore[attr-defined]
        allowed = ", ".join(choices.values)  # type: ignore[attr-defined]
        raise ValidationFailed(f"'{value}' is not one of: {allowed}.", field=field)
    return value


def save(ticket: Any) -> None:
    try:
        with transaction.atomic():  # a savepoint, so a conflict does not poison the caller
            ticket.save()
    except ConcurrentTransition as exc:
        raise ConflictError(
            f"{ticket.key} was changed by someone else; reload and try again."
        ) from exc


def record(
    ticket: Any,
    actor: Actor,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> AuditEvent:
    """Write the audit row of an action on ``ticket`` and let the SLA engine follow it."""
    audit = audit_record(
        target=ticket,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        changes=changes if changes is not None else (diff(ticket, before) if before else {}),
        comment=comment,
    )
    if hasattr(ticket, "sla_snapshot"):  # SLA tickets only (not releases, work items)
        clocks_sync(ticket=ticket, audit=audit)
    return audit


@contextmanager
def transitioning(
    ticket: T, actor: Actor, name: str, *, ensure: Ensure, comment: str = ""
) -> Iterator[T]:
    """Lock the ticket, check the actor and the state (``ensure`` raises 403/409), fire
    transition ``name``; the caller sets the transition's fields and queues notices on
    the yielded ticket; then save, audit and SLA — one transaction."""
    with transaction.atomic():
        locked = lock(ticket)
        ensure(actor, locked, name)
        before, from_state = snapshot(locked), locked.status  # type: ignore[attr-defined]
        getattr(locked, name)()
        yield locked
        save(locked)
        record(
            locked,
            actor,
            name,
            before=before,
            from_state=from_state,
            to_state=locked.status,
            comment=comment,
        )  # type: ignore[attr-defined]


def ensure_transition_possible(ticket: Any, name: str) -> None:
    """409 when the ticket's state does not allow ``name``."""
    from core.exceptions import IllegalTransition

    if name not in {t.name for t in ticket.get_available_status_transitions()}:
        raise IllegalTransition(
            f"Cannot {name.replace('_', ' ')} {ticket.key} while it is "
            f"{ticket.get_status_display().lower()}."
        )
