"""The integrations' admin pages (subscriptions, connectors, mailboxes)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.exceptions import DomainError
from integrations.models import InboundMail, WebhookAttempt, WebhookDelivery, WebhookSubscription


# --- e-mail in ------------------------------------------------------------------------------
@admin.register(InboundMail)
class InboundMailAdmin(ReadOnlyAdmin):
    """Every mail the mailboxes delivered and what became of it (read-only: a mail is
    processed by ``manage.py mail_fetch``, never edited)."""

    list_display = ("received_at", "mailbox", "sender", "subject", "outcome", "record_link")
    list_filter = ("outcome", "mailbox")
    search_fields = ("sender", "subject", "message_id")
    date_hierarchy = "received_at"
    list_select_related = ("content_type",)
    readonly_fields = [f.name for f in InboundMail._meta.fields] + ["record_link"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # the records a page of rows touched, one query per record type
        return super().get_queryset(request).prefetch_related("record")

    @admin.display(description="record")
    def record_link(self, obj: InboundMail) -> str:
        record = obj.record
        return str(getattr(record, "key", None) or record or "")


# --- outbound webhooks (issue 15) -------------------------------------------------------------
@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    """Read here, changed on the subscription pages or through the API (the services: one
    audit row per change, the secret shown once, private receivers an administrator's
    decision). The actions call the same services."""

    list_display = ["name", "url", "owner", "is_active", "allow_private", "consecutive_failures"]
    list_filter = ["is_active", "allow_private"]
    search_fields = ["name", "url"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]
    actions = ["enable", "disable", "redeliver_dead"]

    def _each(self, request, queryset, act, done: str) -> None:  # type: ignore[no-untyped-def]
        count = 0
        for sub in queryset:
            try:
                act(sub)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{sub}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{count} subscription(s) {done}.")

    @admin.action(description="Enable the selected subscriptions")
    def enable(self, request, queryset) -> None:  # type: ignore[no-untyped-def]
        from integrations.services import webhooks

        self._each(
            request,
            queryset,
            lambda s: webhooks.subscription_enable(subscription=s, actor=request.user),
            "enabled",
        )

    @admin.action(description="Disable the selected subscriptions")
    def disable(self, request, queryset) -> None:  # type: ignore[no-untyped-def]
        from integrations.services import webhooks

        self._each(
            request,
            queryset,
            lambda s: webhooks.subscription_disable(
                subscription=s, actor=request.user, reason="Turned off in the admin."
            ),
            "disabled",
        )

    @admin.action(description="Redeliver their dead deliveries")
    def redeliver_dead(self, request, queryset) -> None:  # type: ignore[no-untyped-def]
        from integrations.services import webhooks

        self._each(
            request,
            queryset,
            lambda s: webhooks.webhook_redeliver(subscription=s, actor=request.user),
            "redelivered",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "subscription", "event_type", "record_label", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["webhook_id", "record_label"]
    list_select_related = ["subscription"]
    readonly_fields = [
        "subscription",
        "message",
        "webhook_id",
        "event_type",
        "content_type",
        "object_id",
        "record_label",
        "created_at",
    ]


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "delivery",
        "attempted_at",
        "response_status",
        "ok",
        "dead",
        "duration_ms",
    ]
    list_filter = ["ok", "dead"]
    list_select_related = ["delivery"]


# --- two-way tracker sync: connectors and remote links ----------------------------------------
from django import forms  # noqa: E402

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
class RemoteLinkAdmin(ReadOnlyAdmin):
    list_display = ("remote_key", "connector", "content_type", "object_id", "sync_state",
                    "last_synced_at")  # fmt: skip
    list_filter = ("connector", "sync_state")
    search_fields = ("remote_key", "remote_id")
    readonly_fields = [f.name for f in RemoteLink._meta.fields]
    actions = ["resync"]  # links are made by the sync, never here

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
class InboundDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "connector", "event", "remote_key", "outcome", "status_code")
    list_filter = ("connector", "outcome")
    search_fields = ("identifier", "digest", "remote_key")
    readonly_fields = [f.name for f in InboundDelivery._meta.fields]
