"""The integrations' admin pages (subscriptions, connectors, mailboxes)."""

# --- two-way tracker sync: connectors and remote links ----------------------------------------
from typing import Any  # noqa: E402

from django import forms  # noqa: E402
from django.contrib import admin, messages  # noqa: E402
from django.http import HttpRequest  # noqa: E402

from core.exceptions import DomainError  # noqa: E402
from core.roles import is_administrator  # noqa: E402
from integrations.connectors import secrets  # noqa: E402
from integrations.models import (  # noqa: E402
    DIRECTIONS_HELP,
    Connector,
    ConnectorMapping,
    InboundDelivery,
    RemoteLink,
)


class ConnectorForm(forms.ModelForm):
    """The secrets are write-only: typed here, stored encrypted, never shown again (left
    empty, the stored one stays)."""

    base_url = forms.URLField(
        assume_scheme="https", help_text=Connector._meta.get_field("base_url").help_text
    )
    api_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The account's API token, stored encrypted; empty keeps the stored one. "
        "Or name a CONNECTOR_CREDENTIALS entry below and leave this empty.",
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret the tracker's webhook signs with (stored encrypted); empty "
        "keeps the stored one.",
    )

    class Meta:
        model = Connector
        fields = (
            "name",
            "kind",
            "base_url",
            "auth_email",
            "api_token_setting",
            "allow_private",
            "active",
            "actor",
            "status_map",
            "priority_map",
            "field_map",
        )
        help_texts = {"field_map": DIRECTIONS_HELP}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        from integrations.models.connectors import DIRECTIONS, MAPPABLE_FIELDS

        field_map = data.get("field_map") or {}
        if not isinstance(field_map, dict):
            self.add_error("field_map", "A JSON object: field → in, out or both.")
        else:
            for name, direction in field_map.items():
                if name not in MAPPABLE_FIELDS or direction not in DIRECTIONS:
                    self.add_error(
                        "field_map",
                        f"{name}: {direction} — fields are {', '.join(MAPPABLE_FIELDS)}; "
                        f"directions {', '.join(DIRECTIONS)}.",
                    )
        for name in ("status_map", "priority_map"):
            if not isinstance(data.get(name) or {}, dict):
                self.add_error(name, "A JSON object.")
        return data

    def save(self, commit: bool = True) -> Connector:
        connector = super().save(commit=False)
        if self.cleaned_data.get("api_token"):
            connector.api_token_encrypted = secrets.encrypt(self.cleaned_data["api_token"])
        if self.cleaned_data.get("webhook_secret"):
            connector.webhook_secret_encrypted = secrets.encrypt(
                self.cleaned_data["webhook_secret"]
            )
        if commit:
            connector.save()
            self.save_m2m()
        return connector


class ConnectorMappingInline(admin.TabularInline):
    model = ConnectorMapping
    extra = 1


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    inlines = [ConnectorMappingInline]
    list_display = ("name", "kind", "base_url", "active", "allow_private", "last_polled_at")
    list_filter = ("kind", "active")
    readonly_fields = ("last_polled_at", "webhook_path")

    def webhook_path(self, obj: Connector) -> str:
        return f"/api/v1/connectors/{obj.pk}/webhook/" if obj.pk else "(after saving)"

    webhook_path.short_description = "Webhook URL path"  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # a private receiver is Tandem's own network: only an Administrator opens it
        fields = list(super().get_readonly_fields(request, obj))
        if not is_administrator(request.user):
            fields.append("allow_private")
        return fields


@admin.register(RemoteLink)
class RemoteLinkAdmin(admin.ModelAdmin):
    list_display = ("remote_key", "connector", "content_type", "object_id", "sync_state",
                    "last_synced_at")  # fmt: skip
    list_filter = ("connector", "sync_state")
    search_fields = ("remote_key", "remote_id")
    readonly_fields = [f.name for f in RemoteLink._meta.fields]
    actions = ["resync"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # links are made by the sync

    @admin.action(description="Resync with the tracker")
    def resync(self, request: HttpRequest, queryset: Any) -> None:
        from integrations.services.connectors import remote_link_resync

        done = 0
        for link in queryset:
            try:
                remote_link_resync(link=link, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{link}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} resync(s) queued.")


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "connector", "event", "remote_key", "outcome", "status_code")
    list_filter = ("connector", "outcome")
    readonly_fields = [f.name for f in InboundDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
