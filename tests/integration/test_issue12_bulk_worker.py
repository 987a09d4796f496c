"""Issue 12, bulk actions through a real Celery worker and broker: a job above the inline
size is queued after commit, a worker runs it, progress moves, every ticket gets its audit
row. Runs on the embedded default's filesystem broker (and Redis when REDIS_URL is set)."""

from __future__ import annotations

from celery.contrib.testing.worker import start_worker
from django.db.utils import OperationalError

from config.celery import app
from core.models import AuditEvent
from itsm import services
from itsm.models import BulkJob
from itsm.services import bulk
from tests.integration.test_celery_worker import _wait_for, broker  # noqa: F401 (fixture)


def test_worker_runs_a_bulk_assign(broker, org, transactional_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    incidents = [
        services.incident_create(actor=org.requester, service=org.service, title=f"VPN {n}")
        for n in range(bulk.INLINE_MAX + 5)
    ]

    def finished() -> bool:
        try:  # the worker thread writes the shared in-memory SQLite meanwhile
            job = BulkJob.objects.get()
        except OperationalError:
            return False
        return job.status == "done"

    # Queued before the worker starts (the message waits in the broker): the test's
    # in-memory SQLite is shared with the worker's thread, and SQLite locks whole tables.
    job = bulk.bulk_job_create(
        actor=org.agent,
        action="assign",
        incidents=[i.key for i in incidents],
        params={"assignee": "agent"},
    )
    assert BulkJob.objects.get().status == "queued"
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert _wait_for(finished, 60), f"the worker did not run the job over {broker}"
    job.refresh_from_db()
    assert job.done_count == len(incidents) and job.results.filter(ok=True).count() == len(
        incidents
    )
    assert AuditEvent.objects.filter(action="assign", actor=org.agent).count() == len(incidents)
