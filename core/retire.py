"""Retire instead of delete: a team, service, SLA policy or business calendar that
records still name is retired (``is_active`` false) rather than deleted (the delete is
refused with a 409 that says so, ``core.api.exceptions.protected_message``).

A retired record is offered for no *new* assignment: the pickers list the active ones
(plus the record's own current one, so an edit form re-posting it still saves), and the
services refuse a retired one by name. What already names it keeps it and shows it."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.text import capfirst

from core.exceptions import ValidationFailed


def is_retired(obj: Any) -> bool:
    return obj is not None and not getattr(obj, "is_active", True)


def ensure_not_retired(obj: Model | None, *, field: str, current: Any = None) -> None:
    """Refuse ``obj`` for a new assignment when it is retired; ``current`` (the record's
    own present value, an object or an id) is always allowed: keeping is not assigning."""
    if not is_retired(obj):
        return
    current_pk = getattr(current, "pk", current)
    if current_pk is not None and current_pk == obj.pk:  # type: ignore[union-attr]
        return
    what = capfirst(str(obj._meta.verbose_name))  # type: ignore[union-attr]
    raise ValidationFailed(f"{what} '{obj}' is retired: choose an active one.", field=field)


def serializer_check(obj: Model | None, *, field: str, current: Any = None) -> None:
    """``ensure_not_retired`` in a DRF serializer's ``validate``: its 400 names the field."""
    from rest_framework import serializers

    try:
        ensure_not_retired(obj, field=field, current=current)
    except ValidationFailed as exc:
        raise serializers.ValidationError({field: exc.message}) from None


def active_or_current(qs: QuerySet, current: Any = None) -> QuerySet:
    """A picker's choices: the active rows, and the record's own current one if retired."""
    current_pk = getattr(current, "pk", current)
    if current_pk is None:
        return qs.filter(is_active=True)
    return qs.filter(Q(is_active=True) | Q(pk=current_pk))


def config_set_active(*, obj: Model, actor: Any, active: bool) -> bool:
    """Retire (``active`` false) or reactivate a team, service, SLA policy or calendar:
    the admin's *Retire* / *Reactivate* actions. One transaction, the row locked, one
    ``config_changed`` audit row as any configuration change
    (``core.config_audit``); nothing written when it is so already. Returns whether it
    changed."""
    from django.db import transaction

    from core.services import audit_record

    with transaction.atomic():
        locked = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
        if locked.is_active == active:  # type: ignore[attr-defined]
            return False
        locked.is_active = active  # type: ignore[attr-defined]
        locked.save(update_fields=["is_active"])
        label = f"{locked._meta.verbose_name} “{locked}”"
        audit_record(
            target=locked,
            actor=actor,
            action="config_changed",
            changes={"is_active": (not active, active)},
            comment=f"{actor} {'reactivated' if active else 'retired'} {label}.",
        )
    obj.is_active = active  # type: ignore[attr-defined]
    return True
