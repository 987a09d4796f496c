"""Optimistic concurrency: a record's version, checked under its row lock.

A record's version is its primary key and ``updated_at`` (to the microsecond) where the
model has that column (every ticket, work item and article: ``auto_now``, so every
``save()`` moves it); a model without it is versioned by a digest of its columns. The API
sends the version as the ``ETag`` (``core.api.contract``); the pages send it back in a
hidden ``version`` input. ``ensure_version`` compares it with the row as it is once locked,
inside the caller's transaction, so nobody can write between the check and the action.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from core.exceptions import DomainError

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STAMPED = re.compile(r"^(?P<pk>\d+)-(?P<micros>\d+)$")


class PreconditionFailed(DomainError):
    """The record changed since the version the client (or page) read."""

    status_code = 412
    code = "precondition_failed"


class StaleVersion(DomainError):
    """A page posted a form rendered from an older version of the record (409, so the page
    keeps the form open as for any conflict)."""

    status_code = 409
    code = "stale_version"


def _micros(moment: dt.datetime) -> int:
    if moment.tzinfo is None:  # USE_TZ is on; a naive value is UTC (SQLite, tests)
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def _has_stamp(model: type[models.Model]) -> bool:
    return any(f.attname == "updated_at" for f in model._meta.concrete_fields)


def _digest(model: type[models.Model], values: dict[str, Any], pk: Any) -> str:
    text = json.dumps(values, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return f"{pk}-h{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def version_of(obj: models.Model) -> str:
    """The version of ``obj`` as loaded (no query when it has ``updated_at``)."""
    model = type(obj)
    if _has_stamp(model):
        return f"{obj.pk}-{_micros(obj.updated_at)}"  # type: ignore[attr-defined]
    names = [f.attname for f in model._meta.concrete_fields]
    deferred = obj.get_deferred_fields()
    if deferred & set(names):  # a partial row: read the row as it is
        return current_version(model, obj.pk)
    return _digest(model, {n: getattr(obj, n) for n in names}, obj.pk)


def current_version(model: type[models.Model], pk: Any, *, lock: bool = False) -> str:
    """The version of row ``pk`` in the database now; with ``lock``, the row stays locked
    (``SELECT … FOR UPDATE``) to the end of the caller's transaction."""
    qs = model._base_manager.filter(pk=pk)
    if lock:
        qs = qs.select_for_update()
    if _has_stamp(model):
        stamp = qs.values_list("updated_at", flat=True).first()
        return f"{pk}-{_micros(stamp)}" if stamp is not None else ""
    names = [f.attname for f in model._meta.concrete_fields]
    row = qs.values(*names).first()
    return _digest(model, row, pk) if row is not None else ""


def ensure_version(
    obj: models.Model, expected: list[str], *, seen_event: int | None = None, page: bool = False
) -> None:
    """Lock ``obj``'s row and raise unless its version is one of ``expected`` (``*``: any).

    Call inside the action's ``transaction.atomic()``, before the action: the row stays
    locked until the action commits, so a concurrent writer with the same version waits
    and then fails here. The error says who changed the record, when and what (the audit
    rows after ``seen_event`` when the page says which it showed, else the latest)."""
    current = current_version(type(obj), obj.pk, lock=True)
    if "*" in expected or current in expected:
        return
    error = StaleVersion if page else PreconditionFailed
    raise error(what_changed(obj, seen_event=seen_event))


def latest_event_id(obj: models.Model) -> int | None:
    """The newest audit row of ``obj`` (what a page showed when it rendered)."""
    from core.models import AuditEvent

    return (
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def what_changed(obj: models.Model, *, seen_event: int | None = None) -> str:
    """'INC-1042 was changed by Ann Lee at 6 Dec 2026 10:40: status Assigned → In
    progress; reload it and try again.'"""
    from core.models import AuditEvent
    from core.templatetags.tandem import actor_label, audit_changes, state_label, when_label

    name = str(getattr(obj, "key", None) or obj)
    events = AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("actor")
    if seen_event is not None:
        changed = list(events.filter(id__gt=seen_event).order_by("id")[:10])
    else:
        latest = events.order_by("-id").first()
        changed = [latest] if latest is not None else []
    if not changed:
        return f"{name} was changed by someone else meanwhile; reload it and try again."
    last = changed[-1]
    who = ", ".join(dict.fromkeys(actor_label(e.actor) for e in changed))
    parts: list[str] = []
    for event in changed:
        if event.from_state or event.to_state:
            before = state_label(event, event.from_state) if event.from_state else "—"
            parts.append(f"status {before} → {state_label(event, event.to_state)}")
        for label, old, new in audit_changes(event):
            if label.lower() != "status":
                parts.append(f"{label.lower()} {old} → {new}")
        if not (event.from_state or event.to_state or event.changes):
            parts.append(event.action.replace("_", " "))
    what = "; ".join(parts) if parts else "edited"
    return (
        f"{name} was changed by {who} at {when_label(last.created_at)}: {what}; "
        "reload it and try again."
    )
