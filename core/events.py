"""Named domain events, so a lower app can make a higher one react without importing it.

A higher app subscribes in its ``AppConfig.ready()``; the lower app publishes. Handlers
run synchronously in the publisher's transaction, so they commit or roll back with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = defaultdict(list)

# The events that exist; publishing or subscribing to another name is a programming error.
SLA_CLOCK_BREACHED = "sla.clock_breached"
INCIDENT_CREATED = "itsm.incident_created"
WORKAROUND_PUBLISHED = "itsm.workaround_published"
PROBLEM_RESOLVED = "itsm.problem_resolved"
PROBLEM_REOPENED = "itsm.problem_reopened"
RELEASE_LIVE = "projects.release_live"
RELEASE_ROLLED_BACK = "projects.release_rolled_back"
# The go-live gate was evaluated (projects.gate): evaluation=GateEvaluation, release, actor.
# No audit row records it (the evaluation is its own record); webhooks carry it.
RELEASE_GATE_EVALUATED = "projects.release_gate_evaluated"
# The shared write paths' own events (core.services), for what reacts to any record's
# history (integrations: webhooks, connector pushes). Published in the action's transaction.
RECORD_AUDITED = "core.record_audited"  # event=AuditEvent, record=Model, changes=dict
RECORD_COMMENTED = "core.record_commented"  # comment=Comment, record=Model
AUDIT_ROWS_WRITTEN = "core.audit_rows_written"  # rows=list[AuditRow], ids=list[int]
KNOWN_EVENTS = frozenset(
    {
        RECORD_AUDITED,
        RECORD_COMMENTED,
        AUDIT_ROWS_WRITTEN,
        SLA_CLOCK_BREACHED,
        INCIDENT_CREATED,
        WORKAROUND_PUBLISHED,
        PROBLEM_RESOLVED,
        PROBLEM_REOPENED,
        RELEASE_LIVE,
        RELEASE_ROLLED_BACK,
        RELEASE_GATE_EVALUATED,
    }
)


def subscribe(name: str, handler: Handler) -> None:
    if name not in KNOWN_EVENTS:
        raise ValueError(f"Unknown domain event {name!r}.")
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def publish(name: str, **payload: Any) -> int:
    """Call every subscriber; returns how many there were."""
    if name not in KNOWN_EVENTS:
        raise ValueError(f"Unknown domain event {name!r}.")
    for handler in list(_handlers[name]):
        handler(**payload)
    return len(_handlers[name])
