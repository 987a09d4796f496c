"""What the support side shows of the development side (registered in apps.py): the
incident's defect on its page and in its API resource, in support's words."""

from __future__ import annotations

from typing import Any

from core.models import Tier
from core.roles import is_staff_member
from projects.models import Severity
from projects.selectors import defect_of
from projects.services import project_for_service


def incident_defect_field(incident: Any) -> dict[str, Any] | None:
    defect = defect_of(incident)
    if defect is None:
        return None
    release = defect.fixed_in_release or defect.target_release
    return {
        "key": defect.key,
        "title": defect.title,
        "status": defect.status,
        "target_release": str(release) if release else None,
        "release_status": release.status if release else None,
    }


def incident_panel(request: Any, incident: Any) -> dict[str, Any] | None:
    staff = is_staff_member(request.user)
    defect = defect_of(incident)
    if defect is None and not (staff and incident.is_open):
        return None
    release = defect and (defect.fixed_in_release or defect.target_release)
    return {
        "defect": defect,
        "release": release,
        "staff": staff,
        "incident": incident,
        "to_tier_3": incident.tier < Tier.DEVELOPMENT,
        "project": project_for_service(incident.service_id),
        "severities": Severity.choices,
    }
