from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Tandem and the tools it does not replace: outbound webhooks, two-way sync with an
    external tracker, e-mail in. The highest app: it reads every other app's records and
    reacts to their history through ``core.events`` (published by the shared audit and
    comment paths), and delivers through the outbox's channels (``core.outbox``)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        self._ready_webhooks()

    def _ready_webhooks(self) -> None:
        """Outbound webhooks: deliveries written from the shared write paths' events, sent
        through the outbox's "webhook" channel (integrations.services.webhooks)."""
        from core import events, refcache
        from core.models import OutboxMessage
        from core.outbox import register_channel
        from integrations.models import WebhookSubscription
        from integrations.services import webhook_channel, webhook_events

        register_channel(
            OutboxMessage.Channel.WEBHOOK,
            send=webhook_channel.webhook_send,
            max_attempts=webhook_channel.webhook_max_attempts,
            after=webhook_channel.webhook_after,
        )
        events.subscribe(events.RECORD_AUDITED, webhook_events.on_record_audited)
        events.subscribe(events.RECORD_COMMENTED, webhook_events.on_record_commented)
        events.subscribe(events.AUDIT_ROWS_WRITTEN, webhook_events.on_audit_rows_written)
        events.subscribe(events.RELEASE_GATE_EVALUATED, webhook_events.on_release_gate_evaluated)
        refcache.watch(WebhookSubscription)
