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
        pass
