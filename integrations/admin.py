"""The integrations' admin pages (subscriptions, connectors, mailboxes)."""

# --- outbound webhooks (issue 15) -------------------------------------------------------------
from django.contrib import admin, messages  # noqa: E402

from core.exceptions import DomainError  # noqa: E402
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription  # noqa: E402


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Read here, changed on the subscription pages or through the API (the services: one
    audit row per change, the secret shown once, private receivers an administrator's
    decision). The actions call the same services."""

    list_display = ["name", "url", "owner", "is_active", "allow_private", "consecutive_failures"]
    list_filter = ["is_active", "allow_private"]
    search_fields = ["name", "url"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]
    actions = ["enable", "disable", "redeliver_dead"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # created on the page or through the API, where the secret is shown

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

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
class WebhookDeliveryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
