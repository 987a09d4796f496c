from django.urls import path
from rest_framework.routers import DefaultRouter

from projects.api.structure import ComponentViewSet
from projects.api.views import (
    ChangeEmergencyDecisionsView,
    DefectViewSet,
    EmergencyDecisionViewSet,
    EnhancementViewSet,
    IncidentDefectView,
    IncidentSuspectsView,
    IterationViewSet,
    ProjectViewSet,
    ReleaseViewSet,
    TeamCapacityView,
    TimeEntryViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.register("projects", ProjectViewSet, basename="project")
router.register("releases", ReleaseViewSet, basename="release")
router.register("defects", DefectViewSet, basename="defect")
router.register("enhancements", EnhancementViewSet, basename="enhancement")
router.register("components", ComponentViewSet, basename="component")
router.register("iterations", IterationViewSet, basename="iteration")
router.register("time-entries", TimeEntryViewSet, basename="time-entry")
router.register("emergency-decisions", EmergencyDecisionViewSet, basename="emergency-decision")
urlpatterns = [
    path("incidents/<str:ref>/defect/", IncidentDefectView.as_view(), name="incident-defect"),
    path("incidents/<str:ref>/suspects/", IncidentSuspectsView.as_view(), name="incident-suspects"),
    path(
        "changes/<str:ref>/emergency-decisions/",
        ChangeEmergencyDecisionsView.as_view(),
        name="change-emergency-decisions",
    ),
    path("teams/<int:team_id>/capacity/", TeamCapacityView.as_view(), name="team-capacity"),
    *router.urls,
]
