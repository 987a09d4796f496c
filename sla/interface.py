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

    # Optional: ``sla_due_moved(due)``, told the earliest due moment of its ticking clocks
    # (None when none ticks) whenever the engine moves its clocks, for a ticket that keeps
    # it to order its queues by (``Incident.sla_due_at``).


def tickets_for_sla(model: type[models.Model], pks: Iterable[int]) -> list[Any]:
    """The tickets ``pks`` of ``model``, through its ``sla_queryset()`` when it has one."""
    hook = getattr(model, "sla_queryset", None)
    queryset = hook() if hook is not None else model._default_manager.all()
    return list(queryset.filter(pk__in=list(pks)))
