from celery import shared_task

from core.outbox import outbox_deliver_one, outbox_pending_ids


@shared_task(name="core.tasks.outbox_deliver")
def outbox_deliver(message_id: int) -> bool:
    return outbox_deliver_one(message_id)


@shared_task(name="core.tasks.outbox_deliver_pending")
def outbox_deliver_pending() -> int:
    """Periodic safety net: deliver what an after-commit task missed or must retry."""
    return sum(outbox_deliver_one(pk) for pk in outbox_pending_ids())


@shared_task(name="core.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    """Hourly: forget the Idempotency-Keys past their time to live (24 h)."""
    from core.idempotency import purge_expired

    return purge_expired()


@shared_task(name="core.tasks.outbox_purge_settled")
def outbox_purge_settled() -> dict[str, int]:
    """Daily: delete the delivered and dead outbox messages past their channel's retention
    (``core.outbox.outbox_purge_settled``). Safe to run twice."""
    from core.outbox import outbox_purge_settled as purge

    return purge()
