from celery import shared_task

from itsm.services import incident_close_resolved


@shared_task(name="itsm.tasks.incidents_close_resolved")
def incidents_close_resolved() -> int:
    """Close resolved incidents whose confirmation period has passed."""
    return incident_close_resolved()


@shared_task(name="itsm.tasks.bulk_job_run")
def bulk_job_run(job_id: int) -> str:
    """Run a bulk action's job (``itsm.services.bulk``). Safe to run twice: the job is
    claimed with a conditional UPDATE and tickets that have a result are skipped."""
    from itsm.services.bulk import bulk_job_run as run

    job = run(job_id)
    return job.status if job is not None else "not claimed"


@shared_task(name="itsm.tasks.bulk_jobs_resume")
def bulk_jobs_resume() -> int:
    """Periodic: start bulk jobs whose message was lost or whose worker died."""
    from itsm.services.bulk import bulk_jobs_resume as resume

    return resume()


@shared_task(name="itsm.tasks.incident_counts_compact")
def incident_counts_compact() -> int:
    """Periodic: fold the queue counts' rows so counting stays short."""
    from itsm.services.counts import incident_counts_compact as compact

    return compact()
