from celery import shared_task

from itsm.services import incident_close_resolved


@shared_task(name="itsm.tasks.incidents_close_resolved")
def incidents_close_resolved() -> int:
    """Close resolved incidents whose confirmation period has passed."""
    return incident_close_resolved()
