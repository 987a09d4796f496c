"""/api/v1/ endpoints of the integrations."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations.api.connectors import ConnectorWebhookView
from integrations.api.webhooks import WebhookViewSet

# Outbound webhooks (issue 15)
_webhooks = SimpleRouter(trailing_slash=True)
_webhooks.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns: list = [
    *_webhooks.urls,
    # The tracker sync's inbound webhook (issue 15)
    path(
        "connectors/<int:connector_id>/webhook/",
        ConnectorWebhookView.as_view(),
        name="connector-webhook",
    ),
]
