"""Optimistic concurrency: a record's version, checked under its row lock.

A record's version is its primary key and ``updated_at`` (to the microsecond) where the
model has that column (every ticket, work item and article: ``auto_now``, so every
``save()`` moves it); a model without it is versioned by a digest of its columns. The API
sends the version as the ``ETag`` (``core.api.contract``); the pages send it back in a
hidden ``record_version`` input. ``ensure_version`` compares it with the row as it is once locked,
inside the caller's transaction, so nobody can write between the check and the action.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest

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


def has_stamp(model: type[models.Model]) -> bool:
    return any(f.attname == "updated_at" for f in model._meta.concrete_fields)


def _digest(model: type[models.Model], values: dict[str, Any], pk: Any) -> str:
    text = json.dumps(values, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return f"{pk}-h{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def _columns(model: type[models.Model]) -> list[str]:
    # not a password's hash, even digested, in a header anyone holding the record reads
    return [f.attname for f in model._meta.concrete_fields if f.attname != "password"]


def version_of(obj: models.Model) -> str:
    """The version of ``obj`` as loaded (no query when it has ``updated_at``)."""
    # __class__, not type(): request.user is Django's lazy proxy (a session's user)
    model = obj.__class__
    if has_stamp(model):
        return f"{obj.pk}-{_micros(obj.updated_at)}"  # type: ignore[attr-defined]
    names = _columns(model)
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
    if has_stamp(model):
        stamp = qs.values_list("updated_at", flat=True).first()
        return f"{pk}-{_micros(stamp)}" if stamp is not None else ""
    names = _columns(model)
    row = qs.values(*names).first()
    return _digest(model, row, pk) if row is not None else ""


def ensure_version(
    obj: models.Model,
    expected: list[str],
    *,
    user: Any = None,
    seen_event: int | None = None,
    page: bool = False,
) -> None:
    """Lock ``obj``'s row and raise unless its version is one of ``expected`` (``*``: any).

    Call inside the action's ``transaction.atomic()``, before the action: the row stays
    locked until the action commits, so a concurrent writer with the same version waits
    and then fails here. The error says who changed the record, when and what (the audit
    rows after ``seen_event`` when the page says which it showed, else the latest), as
    much as ``user`` may read of the record's history (``core.visibility``)."""
    current = current_version(type(obj), obj.pk, lock=True)
    if "*" in expected or current in expected:
        return
    if page:
        raise StaleVersion(what_changed(obj, user=user, seen_event=seen_event, then=PAGE_ADVICE))
    raise PreconditionFailed(what_changed(obj, user=user, seen_event=seen_event))


API_ADVICE = "reload it and try again."
PAGE_ADVICE = "reload: it is shown below as it is now, with your form kept to send again."


@contextmanager
def page_version_checked(request: HttpRequest, obj: models.Model) -> Iterator[None]:
    """A page's action in one transaction that first locks ``obj`` and refuses (409) a
    form rendered from an older version: the form's hidden ``record_version`` (and
    ``record_seen``, the newest history row the page showed). A post without
    ``record_version`` is not checked."""
    with transaction.atomic():
        version = request.POST.get("record_version", "")
        if version:
            seen = request.POST.get("record_seen", "")
            ensure_version(
                obj,
                [version],
                user=request.user,
                seen_event=int(seen) if seen.isdigit() else None,
                page=True,
            )
        yield


def page_version_fields(obj: models.Model, timeline: list[Any]) -> dict[str, Any]:
    """What a page's forms send back: the record's version and the newest history row
    it shows (read from the page's own timeline, no query)."""
    seen = [e.item.pk for e in timeline if getattr(e, "kind", "") == "audit"]
    return {"record_version": version_of(obj), "record_seen": max(seen) if seen else ""}


def what_changed(
    obj: models.Model,
    *,
    user: Any = None,
    seen_event: int | None = None,
    then: str = API_ADVICE,
) -> str:
    """'INC-1042 was changed by Ann Lee at 6 Dec 2026 10:40: status Assigned → In
    progress; reload it and try again.' Only the history ``user`` may read is told
    (``core.visibility``: a requester does not learn internal moves)."""
    from core.templatetags.tandem import (
        actor_label,
        audit_changes,
        audit_sentence,
        state_label,
        when_label,
    )
    from core.visibility import parts_for

    name = str(getattr(obj, "key", None) or obj)
    parts = parts_for(user, obj)
    events = parts.history(obj).select_related("actor")
    if seen_event is not None:
        changed = list(events.filter(id__gt=seen_event).order_by("id")[:10])
    else:
        latest = events.order_by("-id").first()
        changed = [latest] if latest is not None else []
    if not changed:
        return f"{name} was changed by someone else meanwhile; {then}"
    last = changed[-1]
    who = ", ".join(dict.fromkeys(actor_label(e.actor) for e in changed))
    said: list[str] = []
    for event in changed:
        before = len(said)
        if event.from_state or event.to_state:
            old = state_label(event, event.from_state) if event.from_state else "—"
            said.append(f"status {old} → {state_label(event, event.to_state)}")
        for label, old, new in audit_changes(event) if parts.history_details else []:
            if label.lower() != "status":
                said.append(f"{label.lower()} {old} → {new}")
        if len(said) == before:  # nothing to show field by field: what was done
            said.append(audit_sentence(event).lstrip("· ").lower())
    what = "; ".join(said)
    return f"{name} was changed by {who} at {when_label(last.created_at)}: {what}; {then}"
