from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITIL processes"

    def ready(self) -> None:
        from core import events
        from itsm.sla_hooks import on_clock_breached

        events.subscribe(events.SLA_CLOCK_BREACHED, on_clock_breached)
