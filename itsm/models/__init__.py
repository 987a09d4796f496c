from itsm.models.incident import (
    Category,
    HoldReason,
    Incident,
    IncidentStatus,
    Level,
    ResolutionCode,
    priority_for,
)

__all__ = [
    "Category",
    "HoldReason",
    "Incident",
    "IncidentStatus",
    "Level",
    "ResolutionCode",
    "priority_for",
]
