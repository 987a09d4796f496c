"""The go-live gate, computed from the facts each time (never a stored status)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from itsm.models import ChangeStatus, Incident
from itsm.models.incident import OPEN_STATES
from itsm.services.changes import freeze_windows_hit
from projects.models import WORK_OPEN_STATES, GateEvaluation, Kind, Release


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    passed: bool
    reason: str


def gate_checks(release: Release) -> list[Check]:
    change = release.change
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
    blocking = list(
        release.targeted_items.filter(
            kind=Kind.DEFECT, priority__lte=2, status__in=[s.value for s in WORK_OPEN_STATES]
        )
    )
    checks.append(
        Check(
            "defects",
            "No open P1/P2 defect targeted at it",
            not blocking,
            ("Open: " + ", ".join(d.key for d in blocking) + ".") if blocking else "None open.",
        )
    )
    p1 = list(
        Incident.objects.filter(
            priority=1,
            status__in=[s.value for s in OPEN_STATES],
            service__in=release.project.services.all(),
        ).order_by("number")[:10]
    )
    checks.append(
        Check(
            "incidents",
            "No open P1 incident on its services",
            not p1,
            ("Open: " + ", ".join(i.key for i in p1) + ".") if p1 else "None open.",
        )
    )
    return checks


def gate_evaluate(release: Release, actor: Any, purpose: str) -> tuple[bool, list[Check]]:
    """Evaluate and keep the evaluation (inside the caller's transaction for go-live)."""
    checks = gate_checks(release)
    allowed = all(c.passed for c in checks)
    GateEvaluation.objects.create(
        release=release,
        actor=actor if actor and actor.pk else None,
        purpose=purpose,
        allowed=allowed,
        checks=[asdict(c) for c in checks],
    )
    return allowed, checks
