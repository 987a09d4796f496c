from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITIL processes"

    def ready(self) -> None:
        from core import events
        from core.visibility import register_parts_policy, staff_only
        from itsm import visibility
        from itsm.models import Change, Incident, Problem, ServiceRequest
        from itsm.sla_hooks import on_clock_breached

        events.subscribe(events.SLA_CLOCK_BREACHED, on_clock_breached)
        # What each user may read of each record's parts (core.visibility).
        register_parts_policy(Incident, visibility.incident_parts)
        register_parts_policy(ServiceRequest, visibility.request_parts)
        register_parts_policy(Problem, staff_only)
        register_parts_policy(Change, staff_only)
