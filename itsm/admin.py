from django.contrib import admin

from core.admin import ReadOnlyAdmin
from core.config_audit import ConfigurationAuditAdmin
from itsm.models import Incident


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only here: incidents change through their lifecycle services (desk and API)."""

    list_display = ["key", "title", "status", "priority", "service", "team", "assignee", "tier"]
    list_filter = ["status", "priority", "tier", "service", "team"]
    search_fields = ["title", "number"]
    list_select_related = ["service", "team", "assignee"]


from itsm.models import (  # noqa: E402
    CatalogField,
    CatalogItem,
    CatalogTaskTemplate,
    Problem,
    ServiceRequest,
)


class CatalogFieldInline(admin.TabularInline):
    model = CatalogField
    extra = 1


class CatalogTaskInline(admin.TabularInline):
    model = CatalogTaskTemplate
    extra = 1


@admin.register(CatalogItem)
class CatalogItemAdmin(ConfigurationAuditAdmin):
    """The request catalogue is kept here: fields the requester fills, approval, tasks."""

    list_display = ["name", "service", "approval", "fulfilment_team", "is_active"]
    list_filter = ["service", "approval", "is_active"]
    inlines = [CatalogFieldInline, CatalogTaskInline]


class ReadOnlyTicketAdmin(ReadOnlyAdmin):
    """Tickets change through their lifecycle services (pages and API)."""


@admin.register(Problem)
class ProblemAdmin(ReadOnlyTicketAdmin):
    list_display = ["key", "title", "status", "priority", "service", "assignee"]
    list_filter = ["status", "service"]


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyTicketAdmin):
    list_display = ["key", "item", "status", "requester", "team"]
    list_filter = ["status", "item"]


from itsm.models import Change, FreezeWindow, StandardChangeTemplate  # noqa: E402


@admin.register(FreezeWindow)
class FreezeWindowAdmin(ConfigurationAuditAdmin):
    """Blackout periods: normal and standard changes cannot be scheduled in them."""

    list_display = ["name", "start", "end", "reason"]
    filter_horizontal = ["services"]


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(ConfigurationAuditAdmin):
    list_display = ["name", "is_active"]
    filter_horizontal = ["services"]


@admin.register(Change)
class ChangeAdmin(ReadOnlyTicketAdmin):
    list_display = ["key", "title", "type", "status", "risk", "planned_start"]
    list_filter = ["type", "status", "risk"]
