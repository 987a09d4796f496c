"""What the SLA engine needs from a ticket, and nothing more. Incidents implement it now;
requests, problems and changes will."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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
    pk: int

    @property
    def key(self) -> str: ...

    def sla_snapshot(self) -> TicketSnapshot: ...

    def sla_watchers(self) -> list[str]:
        """Where warnings go: the assignee, else the team's queue."""
        ...
