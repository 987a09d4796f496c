from rest_framework.routers import DefaultRouter

from core.api.views import ServiceViewSet, TeamViewSet, UserViewSet

router = DefaultRouter(trailing_slash=True)
router.register("services", ServiceViewSet, basename="service")
router.register("teams", TeamViewSet, basename="team")
router.register("users", UserViewSet, basename="user")
urlpatterns = router.urls
