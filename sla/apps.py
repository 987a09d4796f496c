from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"

    def ready(self) -> None:
        from core import refcache
        from sla.models import BusinessCalendar, Holiday, SlaPolicy, WorkingPeriod

        # policy_for keeps policies with their calendars per process
        refcache.watch(SlaPolicy, BusinessCalendar, WorkingPeriod, Holiday)
