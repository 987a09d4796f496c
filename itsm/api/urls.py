from rest_framework.routers import DefaultRouter

from itsm.api.problem_views import ProblemViewSet
from itsm.api.views import IncidentViewSet

router = DefaultRouter(trailing_slash=True)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("problems", ProblemViewSet, basename="problem")
urlpatterns = router.urls
