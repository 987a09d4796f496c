"""Reference data that every write reads and almost nothing changes (the SLA policies with
their calendars, the service desk that takes new incidents): kept in each process, and
dropped in every process when a row of it changes.

Each entry is stamped with a shared version, a key in the Django cache (Redis in
production). Saving or deleting a row of a watched model writes a new version at once
and again when its transaction commits, so no process keeps data another has changed,
even one it read between the save and the commit. A transaction that changed reference
data keeps what it reads from then on for itself only, until it ends: what it sees is
not committed and may roll back. A ``flush`` (tests) or ``migrate`` writes a new
version too. A process reads the shared version at most once a ``VERSION_RECHECK``
(a second): another process's change shows within it. Without a shared cache (LocMem,
a single development process) an entry lives ``MAX_AGE`` seconds at most.

Cache invalidation, not domain logic: the signals below only drop copies of rows.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

T = TypeVar("T")

VERSION_KEY = "tandem:refcache:version"
MAX_AGE = 60.0  # seconds: the bound on staleness when the cache is not shared
# seconds between two reads of the shared version: a list asks once per row, and a cache
# round trip each would cost more than the rows; another process's change shows after it
VERSION_RECHECK = 1.0

_entries: dict[Hashable, tuple[str | None, float, Any]] = {}
# dirty_in: the outermost atomic block of a transaction that changed reference data;
# txn_entries: what that transaction read since its last change (its own view)
_state = threading.local()
_seen: dict[str, Any] = {"version": None, "at": float("-inf")}


def _shared_version(now: float) -> str | None:
    if now - _seen["at"] >= VERSION_RECHECK:
        _seen["version"], _seen["at"] = cache.get(VERSION_KEY), now
    return _seen["version"]  # type: ignore[no-any-return]


def _new_version() -> None:
    version = uuid.uuid4().hex
    cache.set(VERSION_KEY, version, None)
    _seen["version"], _seen["at"] = version, time.monotonic()


def _transaction_entries() -> dict[Hashable, Any] | None:
    """The entries of the current transaction when it changed reference data, else None."""
    marker = getattr(_state, "dirty_in", None)
    if marker is None:
        return None
    if connection.atomic_blocks and connection.atomic_blocks[0] is marker:
        return _state.txn_entries  # type: ignore[no-any-return]
    _state.dirty_in = _state.txn_entries = None  # it ended (committed: the version moved)
    return None


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """The value of ``load()`` under ``key``, kept while the reference data is unchanged.
    Callers must not mutate what they get (hand out copies where they might)."""
    own = _transaction_entries()
    if own is not None:  # its uncommitted view: kept for itself, never for the process
        if key not in own:
            own[key] = load()
        return own[key]  # type: ignore[no-any-return]
    now = time.monotonic()
    version = _shared_version(now)  # read before loading: a change during the load wins
    hit = _entries.get(key)
    if hit is not None and hit[0] == version and now - hit[1] < MAX_AGE:
        return hit[2]  # type: ignore[no-any-return]
    value = load()
    _entries[key] = (version, now, value)
    return value


def invalidate(**_: Any) -> None:
    """Drop every process's entries: now, and again once the current transaction commits
    (another process may have re-read the uncommitted rows meanwhile)."""
    _new_version()
    _entries.clear()
    if connection.in_atomic_block:
        _state.dirty_in, _state.txn_entries = connection.atomic_blocks[0], {}
        transaction.on_commit(_new_version)


def watch(*senders: type[models.Model]) -> None:
    """Invalidate on every save and delete of these models (called from ``AppConfig.ready``;
    a bulk write of them must call ``invalidate`` itself)."""
    for sender in senders:
        post_save.connect(invalidate, sender=sender, dispatch_uid=f"refcache-save-{sender}")
        post_delete.connect(invalidate, sender=sender, dispatch_uid=f"refcache-del-{sender}")
    post_migrate.connect(invalidate, dispatch_uid="refcache-migrate")
