"""Pages of the integrations (under /integrations/)."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns: list = [
    path(
        "links/<int:pk>/resync/",
        views.RemoteLinkResyncView.as_view(),
        name="remote_link_resync",
    ),
]
