"""What the SLA engine needs from a ticket, and nothing more. Incidents implement it now;
requests, problems and changes will."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.db import models


@dataclass(frozen=True)
class TicketSnapshot:
    ticket_type: str  # "incident", "request", …
    status: str
    priority: int | None
    service_id: int | None
    team_id: int | None
    responded: bool  # the first agent action happened
    resolved: bool  # resolved or closed: the resolution target is met
    cancelled: bool


@runtime_checkable
class SlaTicket(Protocol):
    """A ticket type may also offer ``sla_queryset()`` (a classmethod): its rows with what
    ``key``, ``title`` and ``sla_watchers`` read, so the sweep loads a batch of them in a
    few queries (``tickets_for_sla``) rather than a few per ticket."""

    pk: int

    @property
    def key(self) -> str: ...

    def sla_snapshot(self) -> TicketSnapshot: ...

    def sla_watchers(self) -> list[str]:
        """Where warnings go: the assignee, else the team's queue."""
        ...

    # Optional: ``SLA_KEPT`` (a class attribute, ``SlaKept``): the ticket's columns the
    # engine keeps from its clocks, so that its queues order and filter by them off the
    # ticket row (``Incident.sla_due_at``, ``sla_breached``, ``sla_risk_due_at``).


@dataclass(frozen=True)
class SlaKept:
    """Which columns of a ticket's table hold what the SLA engine keeps from its clocks
    (cancelled clocks left out); a column a ticket type lacks is None. The engine writes
    them whenever it changes a clock (``sla.services.ticket_marks_sync``, and in bulk for
    the sweep), only when a value moves.

    - ``due``: the earliest ``due_at`` of a ticking clock (running, not stopped), or None;
    - ``breached``: some clock missed its target (``breached``, which stays true);
    - ``risk_due``: the latest ``due_at`` of a ticking, unbreached clock that fired a
      warning (0 < fired < 100), or None. "Some warned clock is due after t" is the same
      as "the latest is after t", so ``risk_due > now`` is the desk's "at risk".
    """

    due: str | None = None
    breached: str | None = None
    risk_due: str | None = None

    def columns(self) -> dict[str, str]:
        """Mark name → field name, for the marks the ticket keeps."""
        return {k: v for k, v in vars(self).items() if v is not None}

    def breached_q(self, now: Any) -> models.Q:
        """Tickets with a breached clock: one missed its target, or a ticking one is
        overdue and not swept yet (the desk's ``?sla=breached``). Needs ``breached`` and
        ``due``."""
        return models.Q(**{self.breached: True}) | models.Q(**{f"{self.due}__lte": now})

    def at_risk_q(self, now: Any) -> models.Q:
        """Tickets with a ticking, unbreached clock whose warning fired and whose due
        moment is still ahead (the desk's ``?sla=at_risk``). Needs ``risk_due``."""
        return models.Q(**{f"{self.risk_due}__gt": now})


@dataclass(frozen=True)
class SlaMarks:
    """The values of ``SlaKept``'s columns for one ticket."""

    due: Any = None
    breached: bool = False
    risk_due: Any = None


def tickets_for_sla(model: type[models.Model], pks: Iterable[int]) -> list[Any]:
    """The tickets ``pks`` of ``model``, through its ``sla_queryset()`` when it has one."""
    hook = getattr(model, "sla_queryset", None)
    queryset = hook() if hook is not None else model._default_manager.all()
    return list(queryset.filter(pk__in=list(pks)))
