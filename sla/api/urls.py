from django.urls import path
from rest_framework.routers import DefaultRouter

from sla.api.views import CalendarViewSet, SlaBreachExportView, SlaPolicyViewSet, SlaReportView

router = DefaultRouter(trailing_slash=True)
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("calendars", CalendarViewSet, basename="calendar")
urlpatterns = [
    path("reports/sla/", SlaReportView.as_view(), name="sla-report"),
    path(
        "reports/sla/breaches/export/",
        SlaBreachExportView.as_view(),
        name="sla-breach-export",
    ),
    *router.urls,
]
