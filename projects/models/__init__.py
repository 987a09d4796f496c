"""The development side: projects, releases, and the work items (defects and
enhancements) they deliver. An incident escalated to development *is* a defect's
symptom: the two are linked, never copied.

A package by topic; everything is imported from here as before: ``from projects.models
import WorkItem``."""

from projects.models.planning import (  # noqa: F401
    IS,
    ITERATION_TRANSITIONS,
    RELEASE_TRANSITIONS,
    RS,
    TERMS,
    WORK_DONE_STATES,
    WORK_OPEN_STATES,
    WORK_TRANSITIONS,
    Iteration,
    IterationStatus,
    Kind,
    Project,
    Release,
    ReleaseStatus,
    ReviewScope,
    Severity,
    W,
    WorkItem,
    WorkItemStatus,
    term,
)
from projects.models.records import (  # noqa: F401
    EmergencyDecision,
    EmergencyDecisionStatus,
    GateEvaluation,
    HypercareRoute,
    TimeEntry,
)
from projects.models.structure import (  # noqa: F401
    LINK_INVERSE,
    Component,
    DevLink,
    DevLinkKind,
    Label,
    WorkItemLink,
    WorkItemLinkKind,
)
