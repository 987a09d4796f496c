"""/api/v1/ endpoints of the integrations."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
