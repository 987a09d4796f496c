"""Pages of the integrations (under /integrations/)."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns: list = [
    # Outbound webhooks (issue 15)
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/ping/", views.webhook_ping, name="webhook_ping"),
    path("webhooks/<int:pk>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/enable/", views.webhook_enable, name="webhook_enable"),
    path("webhooks/<int:pk>/disable/", views.webhook_disable, name="webhook_disable"),
    path("webhooks/<int:pk>/redeliver/", views.webhook_redeliver, name="webhook_redeliver"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    # The tracker sync (issue 15)
    path(
        "links/<int:pk>/resync/",
        views.RemoteLinkResyncView.as_view(),
        name="remote_link_resync",
    ),
]
