from django.urls import path
from rest_framework.routers import DefaultRouter

from projects.api import dev_links
from projects.api.projects import ProjectViewSet
from projects.api.structure import ComponentViewSet
from projects.api.views import (
    ChangeEmergencyDecisionsView,
    DefectViewSet,
    EmergencyDecisionViewSet,
    EnhancementViewSet,
    IncidentDefectView,
    IncidentSuspectsView,
    IterationViewSet,
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
    path("dev-links/", dev_links.DevLinksFromTitleView.as_view(), name="dev-links"),
    *[
        p
        for plural, kind in (("defects", "defect"), ("enhancements", "enhancement"))
        for p in (
            path(
                f"{plural}/<str:ref>/dev-links/",
                dev_links.WorkItemDevLinksView.as_view(kind=kind),
                name=f"{kind}-dev-links",
            ),
            path(
                f"{plural}/<str:ref>/dev-links/<int:link_id>/",
                dev_links.WorkItemDevLinkView.as_view(kind=kind),
                name=f"{kind}-dev-link",
            ),
        )
    ],
    *router.urls,
]
