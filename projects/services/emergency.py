"""Emergency changes that take a developer from a project: the Change Manager's
decision and the Project Manager's confirmation or contest."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.services import moment_now, outbox_email, team_recipients
from itsm.models import Change
from itsm.services.common import (
    lock,
    record,
    require,
    snapshot,
    ticket_link,
)
from projects import permissions
from projects.models import Release


def emergency_decision_record(
    *,
    actor: AbstractBaseUser,
    change: Change,
    release: Release,
    project_manager: AbstractBaseUser,
    slip_days: int,
    note: str = "",
    developer: AbstractBaseUser | None = None,
) -> Any:
    """Record that an emergency change takes a developer from a project: the Change
    Manager (the actor) names the Project Manager who agreed, the developer taken off the
    project and the slip in the project's working days; the release's planned date moves
    by that many working days. Written on both the change and the release; the Project
    Manager is asked to confirm (or contest) it, and the team is told."""
    from core.roles import Role, has_role
    from itsm.models import ChangeType
    from itsm.permissions import is_change_manager
    from projects.models import EmergencyDecision
    from projects.working_days import add_working_days

    if not is_change_manager(actor, change):
        raise ActionForbidden("A Change Manager records an emergency decision.")
    if change.type != ChangeType.EMERGENCY:
        raise ValidationFailed(f"{change.key} is not an emergency change.", field="change")
    if not (
        has_role(project_manager, Role.PROJECT_MANAGER)
        or release.project.project_manager_id == project_manager.pk
    ):
        raise ValidationFailed(
            f"{project_manager} is not a Project Manager.", field="project_manager"
        )
    if developer is not None and not release.project.team.members.filter(pk=developer.pk).exists():
        raise ValidationFailed(
            f"{developer} is not in {release.project.team}, the team building {release.project}.",
            field="developer",
        )
    try:
        slip_days = int(slip_days)
    except (TypeError, ValueError):
        raise ValidationFailed("Slip is a number of working days.", field="slip_days") from None
    if not 0 <= slip_days <= 365:
        raise ValidationFailed("Slip is 0 to 365 working days.", field="slip_days")
    with transaction.atomic():
        r = lock(release)
        if r.status in ("live", "rolled_back", "cancelled"):
            raise IllegalTransition(f"{r} is {r.get_status_display().lower()}.")
        before = snapshot(r)
        planned_before = r.planned_date
        if slip_days and r.planned_date:
            r.original_planned_date = r.original_planned_date or r.planned_date
            r.planned_date = add_working_days(r.planned_date, slip_days, r.project.calendar)
            r.save()
        decision = EmergencyDecision.objects.create(
            change=change,
            release=r,
            change_manager=actor,
            project_manager=project_manager,
            developer=developer,
            slip_days=slip_days,
            note=note,
            planned_date_before=planned_before,
            planned_date_after=r.planned_date,
        )
        text = (
            f"Emergency {change.key} agreed by {actor} (Change Manager) and "
            f"{project_manager} (Project Manager)"
            + (f", taking {developer} off {r.project}" if developer else "")
            + f": {r} moves {slip_days} working day(s)"
            + (f" to {r.planned_date:%d %b %Y}" if r.planned_date else "")
            + (f". {note}" if note else ".")
        )
        record(r, actor, "emergency_decision", before=before, comment=text)
        record(change, actor, "emergency_decision", comment=text)
        outbox_email(
            event="release.emergency_slip",
            recipients=sorted(
                {
                    project_manager.email,
                    *([developer.email] if developer and developer.email else []),
                    *team_recipients(r.project.team),
                }
                - {""}
            ),
            subject=f"{r}: emergency {change.key} moves the release {slip_days} working day(s)",
            body=f"{text}\n\n{project_manager}, please confirm or contest it: "
            f"{ticket_link(change)}",
            target=r,
        )
    return decision


def _ensure_decision_pm(actor: AbstractBaseUser, decision: Any, verb: str) -> None:
    if not permissions.can_answer_emergency_decision(actor, decision):
        raise ActionForbidden(
            f"Only {decision.project_manager}, the Project Manager named, {verb}."
        )
    if decision.status != "proposed":
        raise IllegalTransition(f"The decision is {decision.get_status_display().lower()} already.")


def emergency_decision_confirm(*, decision: Any, actor: AbstractBaseUser, comment: str = "") -> Any:
    """The Project Manager named confirms the emergency decision (proposed → confirmed).
    Audit on the release and the change; the Change Manager is told."""
    from projects.models import EmergencyDecision

    with transaction.atomic():
        d = EmergencyDecision.objects.select_for_update().get(pk=decision.pk)
        _ensure_decision_pm(actor, d, "confirms it")
        d.status, d.pm_decided_at, d.pm_comment = "confirmed", moment_now(), comment.strip()
        d.save()
        text = f"{actor} (Project Manager) confirmed emergency {d.change.key} on {d.release}" + (
            f": {d.pm_comment}" if d.pm_comment else "."
        )
        record(d.release, actor, "emergency_decision_confirmed", comment=text)
        record(d.change, actor, "emergency_decision_confirmed", comment=text)
        outbox_email(
            event="release.emergency_confirmed",
            recipients=[d.change_manager.email],
            subject=f"{d.release}: emergency {d.change.key} confirmed by {actor}",
            body=f"{text}\n\n{ticket_link(d.change)}",
            target=d.release,
        )
    return d


def emergency_decision_contest(*, decision: Any, actor: AbstractBaseUser, reason: str) -> Any:
    """The Project Manager named contests the decision (proposed → contested): the slip it
    made is taken back (when the date has not moved since) and the Change Manager must
    settle it with them. Audit on the release and the change; the Change Manager is told."""
    from projects.models import EmergencyDecision

    require(reason and reason.strip(), "reason", "Say why you contest it.")
    with transaction.atomic():
        d = EmergencyDecision.objects.select_for_update().get(pk=decision.pk)
        _ensure_decision_pm(actor, d, "contests it")
        d.status, d.pm_decided_at, d.pm_comment = "contested", moment_now(), reason.strip()
        d.save()
        r = lock(d.release)
        before = snapshot(r)
        if d.slip_days and r.planned_date and r.planned_date == d.planned_date_after:
            r.planned_date = d.planned_date_before
            if r.planned_date == r.original_planned_date:
                r.original_planned_date = None
            r.save()
        text = (
            f"{actor} (Project Manager) contests emergency {d.change.key} on {r}: "
            f"{d.pm_comment}"
            + (f" The release is back to {r.planned_date:%d %b %Y}." if r.planned_date else "")
        )
        record(r, actor, "emergency_decision_contested", before=before, comment=text)
        record(d.change, actor, "emergency_decision_contested", comment=text)
        outbox_email(
            event="release.emergency_contested",
            recipients=[d.change_manager.email],
            subject=f"{r}: emergency {d.change.key} contested by {actor}",
            body=f"{text}\n\n{ticket_link(d.change)}",
            target=r,
        )
    return d
