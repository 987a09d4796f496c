from itsm.models.incident import (
    Category,
    HoldReason,
    Incident,
    IncidentStatus,
    Level,
    ResolutionCode,
    priority_for,
)
from itsm.models.problem import (
    PROBLEM_OPEN_STATES,
    PROBLEM_TRANSITIONS,
    Problem,
    ProblemStatus,
)

__all__ = [
    "PROBLEM_OPEN_STATES",
    "PROBLEM_TRANSITIONS",
    "Problem",
    "ProblemStatus",
    "Category",
    "HoldReason",
    "Incident",
    "IncidentStatus",
    "Level",
    "ResolutionCode",
    "priority_for",
]
