from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from core import tokens
from core.config_audit import ConfigurationAuditAdmin, RetireActionsAdmin
from core.exceptions import DomainError
from core.models import (
    Attachment,
    AuditEvent,
    OutboxMessage,
    PersonalToken,
    Service,
    ServiceRole,
    Team,
    Watch,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listed and readable; written only by the record's services, never here: no add,
    change or delete. ``deletable`` keeps the admin's delete (with the user's model
    permission) where it was always allowed."""

    deletable = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


@admin.register(Team)
class TeamAdmin(RetireActionsAdmin):
    list_display = ["name", "tier", "lead", "email", "is_active"]
    list_filter = ["tier", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


class ServiceRoleInline(admin.TabularInline):
    model = ServiceRole
    extra = 0


@admin.register(Service)
class ServiceAdmin(RetireActionsAdmin):
    list_display = ["name", "support_team", "development_team", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [ServiceRoleInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is written by services only."""

    list_display = [
        "created_at",
        "content_type",
        "object_id",
        "action",
        "actor",
        "from_state",
        "to_state",
    ]
    list_filter = ["content_type", "action"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    """Read-only: files are added and removed through core.attachments (permission,
    audit, the stored bytes), on the record's page or its API."""

    list_display = ["created_at", "name", "mime_type", "size", "public", "uploaded_by"]
    list_filter = ["content_type", "public", "mime_type"]
    search_fields = ["name", "sha256"]
    list_select_related = ["uploaded_by"]


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdmin):
    """Read-only: watches are added and removed through core.watchers (who may, audit),
    on the record's page or its API."""

    list_display = ["created_at", "user", "content_type", "object_id", "added_by"]
    list_filter = ["content_type"]
    search_fields = ["user__username"]
    list_select_related = ["user", "added_by", "content_type"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "status", "attempts", "subject"]
    list_filter = ["status", "event"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]


from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.admin import GroupAdmin, UserAdmin  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402

from core.models import UserProfile  # noqa: E402


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    fk_name = "user"
    can_delete = False


class TandemUserAdmin(ConfigurationAuditAdmin, UserAdmin):
    """A user's groups are their Tandem roles (core.roles): granting or taking one back
    here is audited on the user, with the rest of the change."""

    inlines = [UserProfileInline]


class TandemGroupAdmin(ConfigurationAuditAdmin, GroupAdmin):
    """A group is a role: what it may do in the admin is configuration too."""


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), TandemUserAdmin)


@admin.register(PersonalToken)
class PersonalTokenAdmin(ReadOnlyAdmin):
    """Read-only, with one action: revoke (``core.tokens.token_revoke``, audited), for a
    token that leaked or a person who left. Tokens are created by their owners only."""

    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at"]
    list_display += ["last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):  # type: ignore[no-untyped-def]
        done = 0
        for pk in queryset.filter(revoked_at=None).values_list("pk", flat=True):
            try:
                tokens.token_revoke(token_id=pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
            done += 1
        self.message_user(request, f"{done} token(s) revoked.", messages.SUCCESS)


admin.site.unregister(Group)
admin.site.register(Group, TandemGroupAdmin)
