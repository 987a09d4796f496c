"""The webhook event catalogue: what a subscription can ask for, and which audit rows
(``core.events``) make which event types.

An event type reads ``<record type>.<what happened>``. The audit trail is the source: every
action on a record writes one audit row (``core.services.audit_record``), the comment path
publishes each comment, and the SLA sweep writes its warnings and breaches in bulk
(``sla_warning`` / ``sla_breached`` rows through ``audit_rows_insert``). One audit row can be
several event types at once (``assign`` on an incident is ``incident.transitioned`` and
``incident.assigned``); a subscription gets one delivery for each type it asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAYLOAD_VERSION = "1"

# Record types, in the order pages list them: (type, label).
RECORD_TYPES: tuple[tuple[str, str], ...] = (
    ("incident", "Incident"),
    ("request", "Service request"),
    ("problem", "Problem"),
    ("change", "Change"),
    ("work_item", "Work item (defect, enhancement)"),
    ("release", "Release"),
    ("article", "Knowledge article"),
)
SLA_TYPES = frozenset({"incident", "request", "problem", "change"})
ASSIGNABLE = frozenset({"incident", "request", "problem", "work_item"})

# The generic events (what happened, its description), for each record type they apply to.
_GENERIC: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("created", "A record was created.", None),
    ("transitioned", "Its state changed (any transition).", None),
    ("commented", "A comment was added (internal notes only to owners who may read them).", None),
    ("assigned", "Its assignee changed.", ASSIGNABLE),
    ("sla_warning", "An SLA clock passed its warning threshold (the SLA sweep).", SLA_TYPES),
    ("sla_breached", "An SLA clock breached its target (the SLA sweep).", SLA_TYPES),
)
# Events of one record type, with the audit action that makes them.
SPECIFIC: dict[str, tuple[str, str]] = {
    # event type: (audit action, description)
    "problem.known_error": ("mark_known_error", "The problem became a known error."),
    "change.approved": ("cab_approved", "Every approver approved the change."),
    "change.scheduled": ("schedule", "The change's window was scheduled."),
    "release.live": ("go_live", "The release went live."),
    "article.needs_review": ("flagged", "The article was flagged for review."),
}
# Not made by an audit row: the release gate's evaluation (``projects.gate``, published as
# ``core.events.RELEASE_GATE_EVALUATED``) and a test ping.
RELEASE_GATE_EVALUATED = "release.gate_evaluated"
PING = "webhook.ping"
OTHER: dict[str, str] = {
    RELEASE_GATE_EVALUATED: "The release's go-live gate was evaluated (asked, or a go-live).",
}


def _build() -> dict[str, str]:
    types: dict[str, str] = {}
    for record_type, _label in RECORD_TYPES:
        for what, text, applies in _GENERIC:
            if applies is None or record_type in applies:
                types[f"{record_type}.{what}"] = text
        for event_type, (_action, text) in SPECIFIC.items():
            if event_type.startswith(record_type + "."):
                types[event_type] = text
        for event_type, text in OTHER.items():
            if event_type.startswith(record_type + "."):
                types[event_type] = text
    return types


# Every event type a subscription may name, with its description (the catalogue).
EVENT_TYPES: dict[str, str] = _build()


def catalogue() -> list[dict[str, str]]:
    """The documented catalogue (the API's schema endpoint and the pages)."""
    return [
        {"type": t, "record_type": t.split(".")[0], "description": d}
        for t, d in EVENT_TYPES.items()
    ] + [{"type": PING, "record_type": "", "description": "A test ping (always delivered)."}]


def grouped() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(record type, label, [(event type, description)]) for the form's checkboxes."""
    return [
        (rt, label, [(t, d) for t, d in EVENT_TYPES.items() if t.startswith(rt + ".")])
        for rt, label in RECORD_TYPES
    ]


def types_of_audit(
    record_type: str,
    *,
    action: str,
    from_state: str = "",
    to_state: str = "",
    changes: Mapping[str, Any] | None = None,
) -> list[str]:
    """The event types one audit row of a ``record_type`` record makes."""
    found: list[str] = []
    if action == "created":
        found.append(f"{record_type}.created")
    elif to_state and from_state != to_state:
        found.append(f"{record_type}.transitioned")
    if action in ("sla_warning", "sla_breached") and record_type in SLA_TYPES:
        found.append(f"{record_type}.{action}")
    if action != "created" and record_type in ASSIGNABLE and "assignee" in (changes or {}):
        found.append(f"{record_type}.assigned")
    for event_type, (specific_action, _text) in SPECIFIC.items():
        if action == specific_action and event_type.startswith(record_type + "."):
            found.append(event_type)
    return found
