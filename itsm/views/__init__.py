from itsm.views.incidents import (
    DeskView,
    IncidentCommentView,
    IncidentCreateView,
    IncidentDetailView,
    IncidentEditView,
    IncidentTransitionView,
    PortalView,
)
from itsm.views.problems import (
    ProblemCandidatesView,
    ProblemCommentView,
    ProblemCreateView,
    ProblemDetailView,
    ProblemEditView,
    ProblemIncidentsView,
    ProblemListView,
    ProblemTransitionView,
)

__all__ = [
    "DeskView",
    "IncidentCommentView",
    "IncidentCreateView",
    "IncidentDetailView",
    "IncidentEditView",
    "IncidentTransitionView",
    "PortalView",
    "ProblemCandidatesView",
    "ProblemCommentView",
    "ProblemCreateView",
    "ProblemDetailView",
    "ProblemEditView",
    "ProblemIncidentsView",
    "ProblemListView",
    "ProblemTransitionView",
]
