from django.urls import path
from rest_framework.routers import DefaultRouter

from core.api.notifications import NotificationPreferenceView, NotificationViewSet
from core.api.tokens import TokenViewSet
from core.api.views import ServiceViewSet, TeamViewSet, UserViewSet

router = DefaultRouter(trailing_slash=True)
router.register("services", ServiceViewSet, basename="service")
router.register("teams", TeamViewSet, basename="team")
router.register("users", UserViewSet, basename="user")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("tokens", TokenViewSet, basename="token")
urlpatterns = [
    path(
        "notification-preferences/",
        NotificationPreferenceView.as_view(),
        name="notification-preferences",
    ),
    *router.urls,
]
