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
        # --- two-way tracker sync (connectors) ---
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
