from __future__ import annotations

from typing import Any

from core.roles import is_administrator, is_staff_member
from knowledge.models import Audience


def visible_audiences(user: Any) -> list[str]:
    """Requesters only ever find public articles; staff find all."""
    if is_staff_member(user):
        return list(Audience.values)
    return [Audience.PUBLIC]


def can_write(user: Any) -> bool:
    return is_staff_member(user)


def can_edit(user: Any, article: Any) -> bool:
    return is_staff_member(user)


def can_publish(user: Any, article: Any) -> bool:
    """Anyone on staff may publish, but not their own draft straight away unless they
    own it and nobody else needs to review (admins); reviews are by a colleague."""
    return is_staff_member(user) and (article.owner_id != user.pk or is_administrator(user))
