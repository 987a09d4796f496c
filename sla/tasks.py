from celery import shared_task

from core.health import SLA_SWEEP, heartbeat_record
from sla import services


@shared_task(name="sla.tasks.clocks_sweep")
def clocks_sweep() -> int:
    """Beat runs this every SLA_SWEEP_SECONDS: warnings and breaches that came due. A sweep
    that finishes records the heartbeat /readyz reads to tell that beat and a worker run."""
    fired = services.clocks_sweep()
    heartbeat_record(SLA_SWEEP)
    return fired


@shared_task(name="sla.tasks.clock_breach_handle")
def clock_breach_handle(clock_id: int) -> bool:
    return services.clock_breach_dispatch(clock_id)


@shared_task(name="sla.tasks.breaches_dispatch_pending")
def breaches_dispatch_pending() -> int:
    """Safety net for breaches whose hand-off task was lost (broker down, worker killed)."""
    return sum(services.clock_breach_dispatch(pk) for pk in services.breaches_pending_ids())
