"""/api/v1/ endpoints of the integrations."""

from django.urls import path

from integrations.api.connectors import ConnectorWebhookView

urlpatterns: list = [
    path(
        "connectors/<int:connector_id>/webhook/",
        ConnectorWebhookView.as_view(),
        name="connector-webhook",
    ),
]
