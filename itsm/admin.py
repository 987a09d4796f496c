from django.contrib import admin

from itsm.models import Incident


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read-only here: incidents change through their lifecycle services (desk and API)."""

    list_display = ["key", "title", "status", "priority", "service", "team", "assignee", "tier"]
    list_filter = ["status", "priority", "tier", "service", "team"]
    search_fields = ["title", "number"]
    list_select_related = ["service", "team", "assignee"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
