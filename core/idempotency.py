"""``Idempotency-Key``: a retried ``POST`` answers what the first one answered.

How a request with a key runs (``run_once``), so that an action happens at most once:

1. The key's row is claimed in its own short transaction, committed before the action:
   user, key, method, path and a digest of the body. The same key with another method,
   path or body is refused (422).
2. The action runs in one transaction that first locks that row (``NOWAIT``): a
   concurrent duplicate finds it locked and hears 409 (in progress). A row that holds an
   answer is replayed (``Idempotent-Replayed: true``) and nothing runs.
3. A successful (2xx) answer is stored in the row in the action's own transaction, so an
   answer is kept exactly when the action committed. A failed action keeps nothing: its
   retry runs again (a crash mid-action rolls back both the action and the lock).

Rows expire after ``IDEMPOTENCY_KEY_TTL_HOURS`` (24): an expired key is a new key, and a
periodic task deletes them (``core.tasks.idempotency_keys_purge``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, transaction
from django.utils import timezone

from core.exceptions import DomainError, ValidationFailed
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("ETag", "Location")
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces (a UUID fits)


class KeyInProgress(DomainError):
    status_code = 409
    code = "idempotency_key_in_progress"


class KeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


def ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def check_key(key: str) -> str:
    if not _VALID_KEY.match(key):
        raise ValidationFailed(
            f"{HEADER} must be 1 to 255 printable characters without spaces (a UUID).",
            field=HEADER,
        )
    return key


def body_digest(data: Any) -> str:
    """SHA-256 of a parsed request body: JSON with sorted keys; a form's fields in order,
    each uploaded file by name, size and content."""
    if hasattr(data, "lists"):  # a QueryDict / MultiValueDict (form or multipart)
        items: list[Any] = []
        for name, values in sorted(data.lists()):
            for value in values:
                if hasattr(value, "chunks"):
                    content = hashlib.sha256()
                    for chunk in value.chunks():
                        content.update(chunk)
                    value.seek(0)
                    items.append([name, "file", value.name, value.size, content.hexdigest()])
                else:
                    items.append([name, value])
        text = json.dumps(items, cls=DjangoJSONEncoder, default=str)
    else:
        try:
            text = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
        except (RecursionError, ValueError):  # nested beyond reason, or circular
            raise ValidationFailed("The body is nested too deeply.", field="body") from None
    return hashlib.sha256(text.encode()).hexdigest()


def claim(
    *, user: AbstractBaseUser, key: str, method: str, path: str, digest: str
) -> IdempotencyKey:
    """The key's row, written and committed now (or the one already there); 422 when the
    key was used for another request. An expired row is replaced."""
    now = timezone.now()
    for _ in range(3):  # a concurrent replacement of an expired row may win the insert
        with transaction.atomic():
            row, created = IdempotencyKey.objects.get_or_create(
                user=user,
                key=key,
                defaults={"method": method, "path": path, "body_hash": digest, "created_at": now},
            )
            if created or row.created_at > now - ttl():
                break
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
    if (row.method, row.path, row.body_hash) != (method, path, digest):
        raise KeyReused(
            f"This {HEADER} was used for another request ({row.method} {row.path} with "
            "another body); use a new key for a new request."
        )
    return row


def run_once(
    row: IdempotencyKey,
    action: Callable[[], Any],
    *,
    replay: Callable[[IdempotencyKey], Any],
    keep: Callable[[Any], tuple[int, Any, dict[str, str]] | None],
) -> Any:
    """Run ``action`` unless the key already has an answer (``replay`` it), with the key's
    row locked; ``keep`` says what of the answer to store (None: keep nothing)."""
    with transaction.atomic():
        try:
            locked = IdempotencyKey.objects.select_for_update(nowait=True).get(pk=row.pk)
        except OperationalError:  # another request holds the key and is running
            raise KeyInProgress(
                f"A request with this {HEADER} is in progress; retry in a moment."
            ) from None
        except IdempotencyKey.DoesNotExist:  # purged between claim and lock: run again
            raise KeyInProgress(
                f"A request with this {HEADER} is in progress; retry in a moment."
            ) from None
        if locked.response_status is not None:
            return replay(locked)
        answer = action()
        kept = keep(answer)
        if kept is not None:
            locked.response_status, locked.response_body, locked.response_headers = kept
            locked.save(update_fields=["response_status", "response_body", "response_headers"])
        return answer


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete the keys older than the TTL; how many."""
    cutoff = (now or timezone.now()) - ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
