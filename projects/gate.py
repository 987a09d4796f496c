"""The go-live gate, computed from the facts each time (never a stored status)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from core import events
from core.services import moment_now
from itsm.models import ChangeStatus, Incident
from itsm.models.incident import OPEN_STATES
from itsm.services.changes import freeze_windows_hit
from projects.models import WORK_OPEN_STATES, GateEvaluation, Release


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    passed: bool
    reason: str


def _window_check(change: Any, now: datetime, outside_window_reason: str) -> Check:
    """Go-live happens inside the window the CAB approved, or a Change Manager says why not
    (the reason is passed at go-live and kept in the evaluation)."""
    label = "Now is inside the approved change window"
    if not (change.planned_start and change.planned_end):
        return Check("window", label, False, f"{change.key} has no approved window.")
    local = timezone.localtime
    window = f"{local(change.planned_start):%d %b %H:%M}–{local(change.planned_end):%d %b %H:%M}"
    if change.planned_start <= now <= change.planned_end:
        return Check("window", label, True, f"Inside {change.key}'s window {window}.")
    if outside_window_reason:
        return Check(
            "window",
            label,
            True,
            f"Outside {change.key}'s window {window} (now {local(now):%d %b %H:%M}), "
            f"with the Change Manager's reason: {outside_window_reason}",
        )
    return Check(
        "window",
        label,
        False,
        f"{change.key} is approved for {window}; now is {local(now):%d %b %H:%M}. Go live "
        "inside the window, or a Change Manager gives the reason to go outside it.",
    )


def gate_checks(
    release: Release, *, now: datetime | None = None, outside_window_reason: str = ""
) -> list[Check]:
    change = release.change
    now = now or moment_now()
    checks: list[Check] = []
    if change is None:
        checks.append(
            Check(
                "change",
                "Deploying change approved and scheduled",
                False,
                "No change deploys this release.",
            )
        )
    else:
        ok = change.status == ChangeStatus.SCHEDULED
        checks.append(
            Check(
                "change",
                "Deploying change approved and scheduled",
                ok,
                f"{change.key} is {change.get_status_display().lower()}.",
            )
        )
        frozen = (
            freeze_windows_hit(change, change.planned_start, change.planned_end)
            if change.planned_start and change.planned_end
            else []
        )
        if not change.planned_start:
            checks.append(
                Check(
                    "freeze", "Window outside freeze windows", False, f"{change.key} has no window."
                )
            )
        elif frozen and not change.freeze_override_reason:
            checks.append(
                Check(
                    "freeze",
                    "Window outside freeze windows",
                    False,
                    "Inside " + ", ".join(str(f) for f in frozen) + ".",
                )
            )
        else:
            why = (
                f"Inside a freeze, with the emergency override: {change.freeze_override_reason}"
                if frozen
                else "No freeze window."
            )
            checks.append(Check("freeze", "Window outside freeze windows", True, why))
        checks.append(_window_check(change, now, outside_window_reason.strip()))
        has_backout = bool(change.backout_plan.strip())
        checks.append(
            Check(
                "backout",
                "Back-out plan",
                has_backout,
                "Written." if has_backout else f"{change.key} has no back-out plan.",
            )
        )
    signed = release.uat_signed_off_at is not None
    checks.append(
        Check(
            "uat",
            "UAT signed off by 2nd line",
            signed,
            f"Signed off by {release.uat_signed_off_by} on {release.uat_signed_off_at:%d %b %Y}."
            if signed
            else "Not signed off.",
        )
    )
    unfinished = list(unfinished_items(release))
    checks.append(
        Check(
            "items",
            "Every item targeted at it is done",
            not unfinished,
            (
                "Not done: "
                + ", ".join(f"{i.key} ({i.get_status_display().lower()})" for i in unfinished)
                + ". Finish them, or move them out of the release (recorded)."
            )
            if unfinished
            else "All done.",
        )
    )
    open_p1 = Incident.objects.filter(
        priority=1,
        status__in=[s.value for s in OPEN_STATES],
        service__in=release.project.services.all(),
        created_at__lte=now,  # always, live; a replayed go-live (history_at) sees no later P1
    )
    # A P1 whose fix ships in this release is what the release is for: holding the release
    # until that P1 is resolved would hold the P1 until the release, and neither would move.
    fixed_here = open_p1.filter(work_items__fixed_in_release=release)
    p1 = list(open_p1.exclude(pk__in=fixed_here.values("pk")).order_by("number")[:10])
    fixed = list(fixed_here.distinct().order_by("number")[:10])
    reason = ("Open: " + ", ".join(i.key for i in p1) + ".") if p1 else "None open."
    if fixed:
        reason += " This release fixes " + ", ".join(i.key for i in fixed) + "."
    checks.append(Check("incidents", "No open P1 incident on its services", not p1, reason))
    return checks


def unfinished_items(release: Release) -> Any:
    """The defects and enhancements targeted at the release that are not done yet."""
    # the release page names each one's assignee: joined, not one query a row
    return (
        release.targeted_items.filter(status__in=[s.value for s in WORK_OPEN_STATES])
        .select_related("assignee")
        .order_by("priority", "kind", "number")
    )


def gate_evaluate(
    release: Release, actor: Any, purpose: str, *, outside_window_reason: str = ""
) -> tuple[bool, list[Check]]:
    """Evaluate and keep the evaluation (inside the caller's transaction for go-live)."""
    checks = gate_checks(release, outside_window_reason=outside_window_reason)
    allowed = all(c.passed for c in checks)
    evaluation = GateEvaluation.objects.create(
        release=release,
        actor=actor if actor and actor.pk else None,
        purpose=purpose,
        allowed=allowed,
        checks=[asdict(c) for c in checks],
    )
    events.publish(
        events.RELEASE_GATE_EVALUATED, evaluation=evaluation, release=release, actor=actor
    )
    return allowed, checks
