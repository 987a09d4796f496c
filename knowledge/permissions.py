from __future__ import annotations

from typing import Any

from core import matrix
from core.roles import is_staff_member
from knowledge.models import Audience


def visible_audiences(user: Any) -> list[str]:
    """Requesters only ever find public articles; staff find all."""
    if is_staff_member(user):
        return list(Audience.values)
    return [Audience.PUBLIC]


def can_write(user: Any) -> bool:
    return matrix.allows(user, "article", "create")


def can_link_to_incident(user: Any, incident: Any) -> bool:
    """Saying "this solved it" on an incident is work on that incident (audited there): whoever
    works it (its team, its assignee, the Incident Manager), as for its work notes."""
    from itsm.permissions import can_work_incident

    return can_write(user) and can_work_incident(user, incident)


def can_edit(user: Any, article: Any) -> bool:
    return matrix.allows(user, "article", "update")


def can_publish(user: Any, article: Any) -> bool:
    """Staff publish; the author may publish their own (the desk cannot wait for a
    reviewer); *Send to review* asks a colleague first when it matters."""
    return matrix.allows(user, "article", "transition: publish")
