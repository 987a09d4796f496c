"""The one sentence a requester reads about where their incident stands.

Decided here, once, from the current state of every record behind the incident — the
incident, its problem (and known error), and the defect development works on with the
release that carries its fix (given by ``projects`` through the ``defect`` extension
field, so this app never imports the ones above it). The incident page and the incident
API both show it, so they can never say two things at once.
"""

from __future__ import annotations

from typing import Any

from core.extensions import fields_for
from itsm.models import HoldReason, Incident, IncidentStatus, ProblemStatus

# Defect states in which development is still on it; the rest are done or dropped.
_DEFECT_WORKING = {"open", "triaged", "in_progress", "in_review"}
_RELEASE_GONE = {"rolled_back", "cancelled"}


def _development(defect: dict[str, Any] | None) -> str | None:
    if not defect:
        return None
    status, release = defect.get("status"), defect.get("target_release")
    release_status = defect.get("release_status")
    if release_status in _RELEASE_GONE:
        release = None  # a withdrawn release is no promise
    if status in ("released", "fixed", "closed") and release and release_status == "live":
        return f"The fix is live in release {release}; we are checking it solved your issue."
    if status == "fixed":
        if release:
            return f"A fix is ready and will ship in release {release}."
        return "A fix is ready and waiting for a release."
    if status in _DEFECT_WORKING:
        planned = f", planned for release {release}" if release else ""
        return f"Our developers are working on a fix{planned}."
    return None  # won't fix / duplicate: what the problem or the desk does decides


def _problem(incident: Incident) -> str | None:
    problem = incident.problem if incident.problem_id else None
    if problem is None or problem.status == ProblemStatus.CANCELLED:
        return None
    if problem.status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
        return "The underlying problem has been fixed; we are checking it solved your issue."
    if problem.workaround_published:
        return "This is a known issue. Until it is fixed, the workaround below should help."
    return "This is a known issue we are working on."


def requester_status_line(incident: Incident, defect: dict[str, Any] | None = None) -> str:
    """Where the incident stands, in one sentence for its requester. ``defect`` is the
    incident's ``defect`` extension field when the caller has it already."""
    status = incident.status
    if status == IncidentStatus.CANCELLED:
        return "This incident was cancelled."
    if status == IncidentStatus.CLOSED and incident.duplicate_of_id is not None:
        return (
            f"This incident is followed under {incident.duplicate_of.key}, which reports "
            "the same issue."
        )
    if status == IncidentStatus.CLOSED:
        return "This incident is closed."
    if status == IncidentStatus.RESOLVED:
        return "We have resolved this incident. Please confirm it is fixed, or reopen it."
    if status == IncidentStatus.ON_HOLD and incident.hold_reason == HoldReason.AWAITING_REQUESTER:
        return "We are waiting for your reply."
    if defect is None:
        defect = fields_for("incident", incident).get("defect")
    line = _development(defect) or _problem(incident)
    if line:
        return line
    if status == IncidentStatus.ON_HOLD:
        waiting = {
            HoldReason.AWAITING_VENDOR: "a supplier",
            HoldReason.AWAITING_CHANGE: "a planned change",
        }.get(incident.hold_reason, "someone outside the team")
        return f"Your incident is on hold while we wait for {waiting}."
    if status == IncidentStatus.IN_PROGRESS:
        return "We are working on your incident."
    if status == IncidentStatus.ASSIGNED:
        return "Our support team has your incident and will start on it soon."
    return "We have received your incident; the service desk will pick it up shortly."
