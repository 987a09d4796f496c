from django.apps import AppConfig
from django.conf import settings


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
        self._ready_connectors()
        self._ready_mail()

    def _ready_mail(self) -> None:
        """E-mail in: a mailbox configured to trust nobody's word on the sender, or with a
        typo, is named when the site starts (``migrate``, ``runserver``, ``check``)."""
        from django.core import checks

        from integrations.mail.sources import check_mailboxes

        checks.register(check_mailboxes, checks.Tags.security)

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
            # the delivery log: a settled delivery and its tries go with their message
            keep_days=lambda: settings.WEBHOOK_DELIVERY_RETENTION_DAYS,
        )
        events.subscribe(events.RECORD_AUDITED, webhook_events.on_record_audited)
        events.subscribe(events.RECORD_COMMENTED, webhook_events.on_record_commented)
        events.subscribe(events.AUDIT_ROWS_WRITTEN, webhook_events.on_audit_rows_written)
        events.subscribe(events.RELEASE_GATE_EVALUATED, webhook_events.on_release_gate_evaluated)
        refcache.watch(WebhookSubscription)

    def _ready_connectors(self) -> None:
        """Two-way tracker sync: pushes written from the shared write paths' events, sent
        through the outbox's "connector" channel (integrations.services.connectors)."""
        from core import events, extensions, refcache
        from core.models import OutboxMessage
        from core.outbox import register_channel
        from core.templatetags.tandem import ACTION_WORDS
        from integrations import views as integration_views
        from integrations.models import Connector, ConnectorMapping
        from integrations.services import connectors

        register_channel(
            OutboxMessage.Channel.CONNECTOR,
            send=connectors.connector_send,
            after=connectors.connector_after,
            keep_days=lambda: settings.CONNECTOR_PUSH_RETENTION_DAYS,
        )
        events.subscribe(events.RECORD_AUDITED, connectors.on_record_audited)
        events.subscribe(events.RECORD_COMMENTED, connectors.on_record_commented)
        refcache.watch(Connector, ConnectorMapping)
        ACTION_WORDS.update(
            {
                connectors.CONFLICT_ACTION: "sync conflict with the tracker",
                "resync_requested": "asked for a resync with the tracker",
            }
        )
        extensions.register_panel(
            "work_item_detail",
            extensions.Panel("integrations/_remote_link.html", integration_views.remote_link_panel),
        )
