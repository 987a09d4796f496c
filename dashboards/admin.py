from django.contrib import admin

from core.admin import ReadOnlyAdmin
from dashboards.models import FactsRun


@admin.register(FactsRun)
class FactsRunAdmin(ReadOnlyAdmin):
    """When the dashboards' roll-ups were last collected, for an operator asking why a
    figure looks old (``manage.py dashboards_collect`` brings them up to date)."""

    list_display = ("key", "started_at", "finished_at", "days", "rows")
