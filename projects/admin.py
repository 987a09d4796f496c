"""The development side in the Django admin, like the ITIL records: listed, searchable,
and read-only wherever a service owns the write (work items, releases, iterations,
emergency decisions, time). Projects are edited here too, but through
``project_create`` / ``project_update`` with the admin user as actor, and archived with
an admin action that calls ``project_archive``: the audit trail is the same as from the
pages and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.exceptions import DomainError, ValidationFailed
from projects import services
from projects.models import (
    DevLink,
    EmergencyDecision,
    Iteration,
    Project,
    Release,
    TimeEntry,
    WorkItem,
)
from projects.services.projects import PROJECT_EDITABLE, check_project_fields


@admin.action(description="Archive the selected projects")
def archive_projects(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    done = []
    for project in queryset.filter(archived_at__isnull=True):
        try:
            services.project_archive(project=project, actor=request.user, reason="From the admin.")
        except DomainError as exc:
            modeladmin.message_user(request, f"{project.code}: {exc.message}", messages.ERROR)
        else:
            done.append(project.code)
    if done:
        modeladmin.message_user(request, f"Archived {', '.join(done)}.", messages.SUCCESS)


@admin.action(description="Restore the selected projects")
def restore_projects(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    done = []
    for project in queryset.filter(archived_at__isnull=False):
        try:
            services.project_restore(project=project, actor=request.user, reason="From the admin.")
        except DomainError as exc:
            modeladmin.message_user(request, f"{project.code}: {exc.message}", messages.ERROR)
        else:
            done.append(project.code)
    if done:
        modeladmin.message_user(request, f"Restored {', '.join(done)}.", messages.SUCCESS)


class ProjectAdminForm(forms.ModelForm):
    """The service's own checks, run as the form's, so a refusal shows on the form."""

    class Meta:
        model = Project
        fields = list(PROJECT_EDITABLE)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        current = self.instance if self.instance.pk else None
        fields = {k: v for k, v in data.items() if k != "services"}
        if current is not None and fields.get("code") == current.code:
            fields.pop("code")
        try:
            check_project_fields(fields, project=current)
        except ValidationFailed as exc:
            for name, errors in (exc.errors or {None: [exc.message]}).items():
                for error in errors:
                    self.add_error(name if name in self.fields else None, error)
        return data


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Add and change go through the project services (one audit row each); deleting is
    archiving (the action), never a delete."""

    list_display = ["code", "name", "team", "project_manager", "review_scope", "archived_at"]
    list_filter = [("archived_at", admin.EmptyFieldListFilter), "team", "review_scope"]
    search_fields = ["code", "name"]
    list_select_related = ["team", "project_manager"]
    form = ProjectAdminForm
    fields = list(PROJECT_EDITABLE) + ["archived_at", "archived_by"]
    readonly_fields = ["archived_at", "archived_by"]
    filter_horizontal = ["services"]
    actions = [archive_projects, restore_projects]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        # The many-to-many services are saved with the rest in save_related, so that one
        # service call (one audit row) writes the whole form.
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name] for name in PROJECT_EDITABLE if name in form.cleaned_data
        }
        data["services"] = list(data.get("services") or [])
        try:
            if change:
                stored = Project.objects.get(pk=form.instance.pk)
                if stored.code == data.get("code"):
                    data.pop("code")  # unchanged: no rename check
                project = services.project_update(project=stored, actor=request.user, **data)
            else:
                project = services.project_create(actor=request.user, **data)
        except DomainError as exc:
            raise AdminServiceError(exc) from exc
        # the admin logs and redirects with the object it holds (form.instance)
        form.instance.pk = project.pk
        form.instance.refresh_from_db()

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except AdminServiceError as exc:
            # The service refused (a bad code, a rename with items): say so, keep nothing.
            self.message_user(request, exc.error.message, messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())


class AdminServiceError(Exception):
    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    """The lifecycle (status, go-live, rollback, UAT) is the release services'; planning
    fields are edited on the release page and the API."""

    list_display = ["__str__", "name", "status", "planned_date", "change", "went_live_at"]
    list_filter = ["status", "project"]
    search_fields = ["version", "name", "project__code"]
    list_select_related = ["project", "change"]


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdmin):
    list_display = ["key", "title", "kind", "status", "priority", "project", "assignee"]
    list_filter = ["kind", "status", "severity", "project"]
    search_fields = ["title", "number"]
    list_select_related = ["project", "assignee"]


@admin.register(Iteration)
class IterationAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "status", "start", "end", "committed_hours"]
    list_filter = ["status", "project"]
    search_fields = ["name", "project__code"]
    list_select_related = ["project"]


@admin.register(EmergencyDecision)
class EmergencyDecisionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "slip_days", "project_manager", "created_at"]
    list_filter = ["status"]
    search_fields = ["change__number", "release__version"]
    list_select_related = ["change", "release__project", "project_manager"]


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    list_display = ["user", "date", "hours", "is_support", "team", "content_type", "object_id"]
    list_filter = ["is_support", "team", "date"]
    search_fields = ["user__username", "note"]
    list_select_related = ["user", "team", "content_type"]


@admin.register(DevLink)
class DevLinkAdmin(ReadOnlyAdmin):
    list_display = ["item", "kind", "title", "state", "added_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["url", "title"]
    list_select_related = ["item", "added_by"]
