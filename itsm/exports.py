"""The columns of the ITSM lists' CSV exports (core.export streams them). Only fields a
list page shows or a requester may read on their own ticket: no descriptions, no notes."""

from __future__ import annotations

from core.export import Column, choice_col, col, key_col, person_col
from core.models import Tier
from itsm.models import (
    Category,
    Change,
    ChangeStatus,
    ChangeType,
    Incident,
    IncidentStatus,
    Problem,
    ProblemStatus,
    RequestStatus,
    Risk,
    ServiceRequest,
)


def _priority(p: int | None) -> str:
    return f"P{p}" if p else ""


INCIDENT_COLUMNS: list[Column] = [
    key_col(Incident.KEY_PREFIX),
    col("Title", "title"),
    col("Priority", "priority", _priority),
    choice_col("Status", "status", IncidentStatus.choices),
    col("Major incident", "major_incident"),
    choice_col("Category", "category", Category.choices),
    col("Service", "service__name"),
    col("Team", "team__name"),
    choice_col("Tier", "tier", Tier.choices),
    person_col("Assignee", "assignee"),
    person_col("Requester", "requester"),
    col("Requester e-mail", "requester__email"),
    col("Opened", "created_at"),
    col("Last update", "updated_at"),
    col("Resolved", "resolved_at"),
]

PROBLEM_COLUMNS: list[Column] = [
    key_col(Problem.KEY_PREFIX),
    col("Title", "title"),
    col("Priority", "priority", _priority),
    choice_col("Status", "status", ProblemStatus.choices),
    col("Service", "service__name"),
    col("Team", "team__name"),
    person_col("Assignee", "assignee"),
    col("Open incidents", "open_incidents"),
    col("Linked incidents", "linked_incidents"),
    col("Opened", "created_at"),
    col("Last update", "updated_at"),
    col("Known error since", "known_error_at"),
    col("Resolved", "resolved_at"),
]

CHANGE_COLUMNS: list[Column] = [
    key_col(Change.KEY_PREFIX),
    col("Title", "title"),
    choice_col("Type", "type", ChangeType.choices),
    choice_col("Status", "status", ChangeStatus.choices),
    choice_col("Risk", "risk", Risk.choices),
    person_col("Requested by", "requested_by"),
    person_col("Implementer", "implementer"),
    col("Team", "team__name"),
    col("Planned start", "planned_start"),
    col("Planned end", "planned_end"),
    col("Opened", "created_at"),
    col("Last update", "updated_at"),
]

REQUEST_COLUMNS: list[Column] = [
    key_col(ServiceRequest.KEY_PREFIX),
    col("Item", "item__name"),
    col("Service", "item__service__name"),
    choice_col("Status", "status", RequestStatus.choices),
    col("Priority", "priority", _priority),
    col("Team", "team__name"),
    person_col("Assignee", "assignee"),
    person_col("Requester", "requester"),
    col("Requester e-mail", "requester__email"),
    col("Opened", "created_at"),
    col("Last update", "updated_at"),
    col("Fulfilled", "fulfilled_at"),
]
