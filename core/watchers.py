"""Watchers: people told what happens on a record (comments, state changes), on every
record type that takes attachments (incidents, requests, problems, changes, work items,
articles: ``core.attachments`` registers how to find each and who works it).

Writes go through ``watch_add`` / ``watch_remove`` (audited) and ``watch_auto`` (silent:
Tandem adds the author of a comment, the reporter of a work item and whoever is
assigned, as Jira does). Who is told, and when, is ``core.notices``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404

from core.exceptions import ActionForbidden, DomainError, NotFound, ValidationFailed
from core.models import Watch
from core.roles import is_staff_member
from core.services import audit_record


def _rules(record: Any) -> Any:
    from core.attachments import _attachables  # the registry of record types

    model = type(record)
    return _attachables.get(model._meta.concrete_model or model)


def is_watchable(record: Any) -> bool:
    return _rules(record) is not None


def record_key(record: Any) -> str:
    return str(getattr(record, "key", None) or record)


# --- who may -------------------------------------------------------------------------------
def may_see(user: Any, record: Any) -> bool:
    """Whether ``user`` may open ``record`` (the record type's own selector decides)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    rules = _rules(record)
    if rules is None:
        return is_staff_member(user)
    if rules.sees is not None:
        return bool(rules.sees(user, record))
    try:
        rules.find(user, record.pk)
    except (DomainError, ObjectDoesNotExist, Http404):
        return False
    return True


def may_work(user: Any, record: Any) -> bool:
    """Staff who may work the record: write an internal note on it (the same rule as an
    internal attachment)."""
    rules = _rules(record)
    if rules is None or not is_staff_member(user):
        return False
    return bool(rules.may_attach(user, record, False))


def may_add_participants(user: Any, record: Any) -> bool:
    """The requester of a record whose type takes participants (incidents) adds colleagues
    to their own ticket, as JSM's request participants, and removes them again."""
    rules = _rules(record)
    return (
        rules is not None
        and rules.participants
        and getattr(user, "is_authenticated", False)
        and getattr(record, "requester_id", None) == user.pk
    )


def may_manage_watchers(user: Any, record: Any) -> bool:
    """Who may add or remove someone else as a watcher: staff who may work the record,
    and the requester on their own ticket (its participants only, see ``watch_remove``)."""
    return may_work(user, record) or may_add_participants(user, record)


ADD_OTHERS = "add someone else as a watcher"
REMOVE_OTHERS = "remove a watcher"


def ensure_may_manage_watchers(actor: Any, record: Any, verb: str) -> None:
    """403 unless ``actor`` may add or remove someone else (``may_manage_watchers``).
    Asked before the person named is looked up, so that whoever may not gets the same
    answer for a name that exists and one that does not (no probing for usernames)."""
    if not may_manage_watchers(actor, record):
        raise ActionForbidden(f"Only those working {record_key(record)} may {verb}.")


def may_watch(user: Any, record: Any) -> bool:
    """Anyone who may see a record may watch it."""
    return is_watchable(record) and may_see(user, record)


# --- reads ---------------------------------------------------------------------------------
def watchers_of(record: models.Model) -> QuerySet[Watch]:
    """The record's watchers with their users, oldest first (one query)."""
    return Watch.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk
    ).select_related("user")


def is_watching(user: Any, record: models.Model) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return watchers_of(record).filter(user=user).exists()


# --- writes --------------------------------------------------------------------------------
def _lock(record: models.Model) -> models.Model:
    return type(record).objects.select_for_update().get(pk=record.pk)


def watch_add(*, record: models.Model, user: AbstractBaseUser, actor: AbstractBaseUser) -> Watch:
    """Make ``user`` watch ``record``.

    Preconditions: the record type takes watchers and ``actor`` may see it (404); anyone
    watches what they may see; adding someone else is for staff who may work the record
    (403), and only someone who may see it (400); the requester of a ticket that takes
    participants adds colleagues who are not staff (400), who then see it. Watching twice
    is no change. Writes the Watch and one audit row (``watcher_added``) on the record; no
    e-mail."""
    if not is_watchable(record) or not may_see(actor, record):
        raise NotFound(f"No record {record_key(record)}.")
    if user.pk != actor.pk:
        ensure_may_manage_watchers(actor, record, ADD_OTHERS)
    # A participant the requester adds opens the ticket by being one (its selector lets
    # watchers in); anyone else added must already be able to.
    if user.pk != actor.pk and not may_work(actor, record) and is_staff_member(user):
        # the requester adds colleagues, not support staff (who follow what they work)
        raise ValidationFailed(
            f"{user} works on tickets: only colleagues are added as participants.",
            field="username",
        )
    if not may_see(user, record) and not may_add_participants(actor, record):
        raise ValidationFailed(f"{user} may not see {record_key(record)}.", field="user")
    with transaction.atomic():
        locked = _lock(record)
        existing = watchers_of(locked).filter(user=user).first()
        if existing is not None:
            return existing
        watch = Watch.objects.create(
            content_type=ContentType.objects.get_for_model(locked),
            object_id=locked.pk,
            user=user,
            added_by=actor,
        )
        audit_record(
            target=locked,
            actor=actor,
            action="watcher_added",
            changes={"watchers": (None, user.get_username())},
            comment="" if user.pk == actor.pk else f"added {user} as a watcher",
        )
    return watch


def watch_remove(*, record: models.Model, user: AbstractBaseUser, actor: AbstractBaseUser) -> None:
    """Stop ``user`` watching ``record``: themselves, or staff who may work the record for
    anyone (403). 404 when they do not watch it. Deletes the Watch and writes one audit
    row (``watcher_removed``)."""
    if not is_watchable(record) or not may_see(actor, record):
        raise NotFound(f"No record {record_key(record)}.")
    if user.pk != actor.pk:
        ensure_may_manage_watchers(actor, record, REMOVE_OTHERS)
        if not may_work(actor, record) and is_staff_member(user):
            # the requester manages the colleagues they added, not who works the ticket
            raise ActionForbidden(
                f"Only those working {record_key(record)} may remove {user} as a watcher."
            )
    with transaction.atomic():
        locked = _lock(record)
        deleted, _ = watchers_of(locked).filter(user=user).delete()
        if not deleted:
            raise NotFound(f"{user} does not watch {record_key(record)}.")
        audit_record(
            target=locked,
            actor=actor,
            action="watcher_removed",
            changes={"watchers": (user.get_username(), None)},
            comment="" if user.pk == actor.pk else f"removed {user} as a watcher",
        )


def watch_auto(*, record: models.Model, users: list[Any]) -> None:
    """Tandem's own watches (comment authors, reporters, assignees): no audit row, no
    e-mail; someone already watching stays as they are. Called inside the caller's
    transaction."""
    if not is_watchable(record):
        return
    ct = ContentType.objects.get_for_model(record)
    rows = [
        Watch(content_type=ct, object_id=record.pk, user=u)
        for u in {u.pk: u for u in users if u is not None and getattr(u, "pk", None)}.values()
        if getattr(u, "is_active", True)
    ]
    if rows:
        Watch.objects.bulk_create(rows, ignore_conflicts=True)
