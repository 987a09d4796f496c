"""Deleting old log rows in bounded batches, for the daily purges (``core.tasks``,
``integrations.tasks``).

Each batch is its own short transaction: its rows are claimed with ``SELECT … FOR UPDATE
SKIP LOCKED`` (PostgreSQL; SQLite locks the whole database for a write anyway) and only
those are deleted, so two purges running at once take disjoint batches and a row another
transaction holds (a dead delivery being requeued, say) is left for the next run. A run
stops after ``RETENTION_MAX_BATCHES`` batches: its cost is bounded whatever the backlog.
Running it twice deletes nothing twice (a deleted row is not there to be claimed again).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

log = logging.getLogger(__name__)


def purge_in_batches(
    queryset: QuerySet[Any],
    *,
    order_by: tuple[str, ...] = ("pk",),
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> int:
    """Delete the rows of ``queryset`` (its own model's rows; their cascades go with them),
    oldest first by ``order_by`` (name the indexed column the filter uses). Returns how
    many rows of the queryset's model were deleted."""
    size = batch_size or settings.RETENTION_BATCH_SIZE
    batches = max_batches or settings.RETENTION_MAX_BATCHES
    model = queryset.model
    deleted = 0
    for _ in range(batches):
        with transaction.atomic():
            ids = list(
                queryset.select_for_update(skip_locked=True)
                .order_by(*order_by)
                .values_list("pk", flat=True)[:size]
            )
            if ids:
                # only the keys: the deletion collector needs no other column
                model._default_manager.filter(pk__in=ids).only("pk").delete()
        deleted += len(ids)
        if len(ids) < size:
            return deleted
    log.warning(
        "%s: %s rows purged, the most one run deletes; the next run goes on",
        model._meta.label,
        deleted,
    )
    return deleted
