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
from sla.models import SlaClock, SlaClockEvent
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


def _replay(ticket: SlaTicket, ticket_type: str) -> tuple[dict[str, SlaClock], SpecCache, list]:  # type: ignore[type-arg]
    ct = ContentType.objects.get_for_model(ticket)
    fields: dict[str, Any] = {}
    clocks: dict[str, SlaClock] = {}
    specs = SpecCache()
    happened: list[tuple[AuditEvent, engine.Change, float]] = []
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
        changes = engine.reconcile(
            clocks,
            snap,
            policy,
            audit.created_at,
            spec_of=lambda p: specs.get_spec(p.calendar),
            new_clock=lambda target: SlaClock(content_type=ct, object_id=ticket.pk, target=target),
        )
        for clock in clocks.values():
            clock.priority, clock.service_id, clock.team_id = (
                snap.priority,
                snap.service_id,
                snap.team_id,
            )
        happened += [
            (
                audit,
                c,
                engine.elapsed_at(
                    c.clock, specs.get_spec(c.clock.policy.calendar), audit.created_at
                ),
            )
            for c in changes
        ]
    return clocks, specs, happened


def clocks_replay(ticket: SlaTicket, ticket_type: str, now: datetime) -> dict[str, ClockFacts]:
    """What the ticket's clocks say at ``now``, recomputed from its audit trail alone."""
    clocks, specs, _ = _replay(ticket, ticket_type)
    return {t: facts(c, specs.get_spec(c.policy.calendar), now) for t, c in clocks.items()}


def clocks_rebuild(ticket: SlaTicket, ticket_type: str, now: datetime) -> list[SlaClock]:
    """Replace the ticket's clocks with those its history gives, thresholds already passed
    counted as fired and breaches as handled (they belong to the past: no notices now).

    For backfilled history (the demo, imports) and after correcting a calendar.
    Precondition: inside the caller's transaction.
    """
    ct = ContentType.objects.get_for_model(ticket)
    SlaClock.objects.filter(content_type=ct, object_id=ticket.pk).delete()
    clocks, specs, happened = _replay(ticket, ticket_type)
    for clock in clocks.values():
        spec = specs.get_spec(clock.policy.calendar)
        elapsed = engine.elapsed_at(clock, spec, now)
        passed = [p for p in clock.thresholds if elapsed >= p / 100 * clock.target_seconds]
        clock.fired = max(passed, default=0)
        if clock.fired >= 100 and not clock.breached:
            clock.breached, clock.breached_at = True, clock.due_at or now
        if clock.breached:
            clock.breach_handled_at = now
        engine.refresh_state(clock)
        engine.schedule(clock, spec)
        clock.save()
    SlaClockEvent.objects.bulk_create(
        SlaClockEvent(
            clock=change.clock,
            kind=change.kind,
            at=audit.created_at,
            elapsed_seconds=elapsed,
            audit_event=audit,
            note=change.note[:255],
        )
        for audit, change, elapsed in happened
    )
    from sla.services import ticket_marks_sync  # services import this module

    ticket_marks_sync(ticket, clocks.values())
    return list(clocks.values())


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
