from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    """The dashboard pages and the collection of their daily roll-ups
    (``dashboards.services``). Each figure is built by the app that owns its records
    (``sla.reports``, ``itsm.reports``, ``projects.reports``, ``knowledge.selectors``). It
    sits above every domain app, as it shows them all."""

    name = "dashboards"
    default_auto_field = "django.db.models.BigAutoField"
