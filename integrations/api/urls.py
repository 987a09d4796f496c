"""/api/v1/ endpoints of the integrations."""

from django.urls import path  # noqa: F401
from rest_framework.routers import SimpleRouter

from integrations.api.webhooks import WebhookViewSet

# Outbound webhooks (issue 15)
_webhooks = SimpleRouter(trailing_slash=True)
_webhooks.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns: list = [*_webhooks.urls]
