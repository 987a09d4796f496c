from django.urls import path
from rest_framework.routers import DefaultRouter

from itsm.api.bulk import BulkJobView, IncidentBulkView
from itsm.api.canned import CannedReplyViewSet
from itsm.api.change_views import (
    ChangeViewSet,
    FreezeWindowViewSet,
    StandardChangeTemplateViewSet,
)
from itsm.api.problem_views import ProblemViewSet
from itsm.api.request_views import ApprovalViewSet, CatalogItemViewSet, ServiceRequestViewSet
from itsm.api.satisfaction import SatisfactionViewSet
from itsm.api.saved_views import SavedViewViewSet
from itsm.api.views import IncidentViewSet

router = DefaultRouter(trailing_slash=True)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("problems", ProblemViewSet, basename="problem")
router.register("catalog-items", CatalogItemViewSet, basename="catalog-item")
router.register("requests", ServiceRequestViewSet, basename="service-request")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("changes", ChangeViewSet, basename="change")
router.register("freeze-windows", FreezeWindowViewSet, basename="freeze-window")
router.register("change-templates", StandardChangeTemplateViewSet, basename="change-template")
router.register("satisfaction", SatisfactionViewSet, basename="satisfaction")
router.register("saved-views", SavedViewViewSet, basename="saved-view")
router.register("canned-replies", CannedReplyViewSet, basename="canned-reply")
# Before the router: its incident detail route would take "bulk" for an incident's id.
urlpatterns = [
    path("incidents/bulk/", IncidentBulkView.as_view(), name="incident-bulk"),
    path("bulk-jobs/<int:pk>/", BulkJobView.as_view(), name="bulk-job-detail"),
    *router.urls,
]
