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
