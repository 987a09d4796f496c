"""Recompute a ticket's clocks from its audit trail alone, through the same engine as the
live path. A clock that disagrees with its replay is a bug; a test replays histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent
from sla import engine
from sla.interface import SlaTicket, TicketSnapshot
from sla.models import SlaClock
from sla.services import SpecCache, policy_for

RESOLVED = {"incident": ("resolved", "closed")}
CANCELLED = {"incident": ("cancelled",)}


def _ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


@dataclass(frozen=True)
class ClockFacts:
    """What a clock says about a ticket at a moment, comparable between live and replay."""

    target: str
    policy_id: int
    target_seconds: int
    stage: str  # ticking, paused, stopped or cancelled
    elapsed_seconds: float
    paused_seconds: float
    missed: bool
    due_at: datetime | None


def facts(clock: SlaClock, spec, now: datetime) -> ClockFacts:  # type: ignore[no-untyped-def]
    if clock.state == "cancelled":
        stage = "cancelled"
    elif clock.stopped_at is not None:
        stage = "stopped"
    elif clock.paused_since is not None:
        stage = "paused"
    else:
        stage = "ticking"
    elapsed = engine.elapsed_at(clock, spec, now)
    return ClockFacts(
        target=clock.target,
        policy_id=clock.policy_id,
        target_seconds=clock.target_seconds,
        stage=stage,
        elapsed_seconds=round(elapsed, 3),
        paused_seconds=round(engine.paused_at(clock, now), 3),
        missed=clock.breached or elapsed >= clock.target_seconds,
        due_at=clock.due_at if stage == "ticking" else None,
    )


def clocks_replay(ticket: SlaTicket, ticket_type: str, now: datetime) -> dict[str, ClockFacts]:
    ct = ContentType.objects.get_for_model(ticket)
    fields: dict[str, Any] = {}
    clocks: dict[str, SlaClock] = {}
    specs = SpecCache()
    for audit in AuditEvent.objects.filter(content_type=ct, object_id=ticket.pk):
        if audit.action.startswith("sla_"):
            continue  # the engine's own rows are effects, not causes
        for name, (_old, new) in audit.changes.items():
            fields[name] = _ref(new)
        if audit.to_state:
            fields["status"] = audit.to_state
        snap = TicketSnapshot(
            ticket_type=ticket_type,
            status=fields.get("status", ""),
            priority=fields.get("priority"),
            service_id=fields.get("service"),
            team_id=fields.get("team"),
            responded=bool(fields.get("responded_at")),
            resolved=fields.get("status") in RESOLVED.get(ticket_type, ()),
            cancelled=fields.get("status") in CANCELLED.get(ticket_type, ()),
        )
        policy = policy_for(ticket_type, snap.priority, snap.service_id)
        engine.reconcile(
            clocks,
            snap,
            policy,
            audit.created_at,
            spec_of=lambda p: specs.get_spec(p.calendar),
            new_clock=lambda target: SlaClock(content_type=ct, object_id=ticket.pk, target=target),
        )
    return {t: facts(c, specs.get_spec(c.policy.calendar), now) for t, c in clocks.items()}


def clocks_live(ticket: SlaTicket, now: datetime) -> dict[str, ClockFacts]:
    ct = ContentType.objects.get_for_model(ticket)
    specs = SpecCache()
    return {
        c.target: facts(c, specs.get_spec(c.policy.calendar), now)
        for c in SlaClock.objects.filter(content_type=ct, object_id=ticket.pk).select_related(
            "policy__calendar"
        )
    }


__all__ = ["ClockFacts", "clocks_live", "clocks_replay"]
