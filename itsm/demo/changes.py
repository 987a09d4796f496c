"""Past changes for the demo, each replayed through the change services at the moments it
lived (``history_at``): drafted, assessed, approved by the CAB (or the emergency CAB),
scheduled, implemented in its window with an outcome, reviewed. ``projects.demo`` deploys
its past releases through ``change_replay`` too."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from core.models import Service
from core.services import history_at
from itsm.services.approvals import approvals_of

# Past changes: (days before today of the window, type, service, title, outcome). The
# payroll scheduler restarts are standard; the night-time ones emergencies.
PAST_CHANGES = [
    (86, "standard", "Payroll", "", "successful"),
    (81, "normal", "HR Portal", "HR Portal: upgrade the application server", "successful"),
    (
        77,
        "emergency",
        "Customer Portal",
        "Customer portal: roll the expired TLS certificate",
        "successful",
    ),
    (72, "standard", "Payroll", "", "successful"),
    (66, "normal", "Mobile App", "Mobile app 4.0: new login screen", "partial"),
    (60, "normal", "Payroll", "Payroll: bank file format for the new clearing house", "successful"),
    (58, "standard", "Payroll", "", "successful"),
    (52, "normal", "Customer Portal", "Customer portal: move search to the new index", "failed"),
    (
        47,
        "normal",
        "Customer Portal",
        "Customer portal: search on the new index, again",
        "successful",
    ),
    (44, "standard", "Payroll", "", "partial"),
    (40, "emergency", "Mobile App", "Mobile app: hotfix for the crash on start", "successful"),
    (35, "normal", "HR Portal", "HR Portal: absence calendar rewrite", "successful"),
    (30, "standard", "Payroll", "", "successful"),
    (26, "normal", "Email & Calendar", "Mail: enforce modern authentication", "partial"),
    (21, "normal", "Payroll", "Payroll: pension export to the new provider", "failed"),
    (16, "standard", "Payroll", "", "successful"),
    (12, "emergency", "Payroll", "Payroll: patch the overtime import before the run", "partial"),
    (9, "normal", "Mobile App", "Mobile app 4.1: push notifications provider", "successful"),
    (5, "normal", "HR Portal", "HR Portal: address change API", "successful"),
    (2, "standard", "Payroll", "", "successful"),
]

PLANS = {
    "implementation_plan": "Deploy the release with the pipeline; migrate the database.",
    "backout_plan": "Redeploy the previous release; restore the database snapshot.",
    "test_plan": "Automated smoke tests, then a payroll dry run.",
}


def local_moment(day: date, hour: float) -> datetime:
    """``hour`` (fractions too) on ``day``, local time."""
    midnight = datetime.combine(day, time(0), tzinfo=timezone.get_current_timezone())
    return midnight + timedelta(hours=hour)


def change_replay(
    *,
    kind: str,
    service: Service,
    title: str,
    window: tuple[datetime, datetime],
    u: dict[str, Any],
    template: Any = None,
) -> Any:
    """A change from its draft to *scheduled* for ``window``, each step through the
    services at the moment it happened (``history_at``): a normal change a week ahead
    through assessment and the CAB, a standard one the day before from its template, an
    emergency one an hour ahead through the emergency CAB. Returns the change."""
    from itsm.services import changes as cs

    start, end = window
    day = timedelta(days=1)
    lead = {"normal": 6 * day, "standard": day, "emergency": timedelta(hours=1)}[kind]
    t = start - lead
    if kind != "emergency":
        t = local_moment(t.date(), 10)  # drafted in working hours

    def at(step: timedelta) -> Any:
        nonlocal t
        t = t + step
        return history_at(t)

    minute = timedelta(minutes=1)
    if kind == "standard":
        with at(0 * minute):
            ch = cs.change_create(actor=u["support2"], type="standard", template=template)
        with at(5 * minute):
            ch = cs.change_submit(change=ch, actor=u["support2"])
        with at(40 * minute):
            return cs.change_schedule(
                change=ch, actor=u["change_manager"], planned_start=start, planned_end=end
            )
    with at(0 * minute):
        ch = cs.change_create(
            actor=u["developer"],
            type=kind,
            title=title,
            services=[service],
            implementer=u["developer"],
            reason="Agreed with the service owner.",
            **PLANS,
        )
    with at(10 * minute):
        ch = cs.change_submit(change=ch, actor=u["developer"])
    if kind == "normal":
        with at(day + 60 * minute):
            ch = cs.change_assess(
                change=ch, actor=u["change_manager"], risk_answers={"many_users": True}
            )
        approvers = [u["release_manager"], u["project_manager"]]
    else:
        approvers = [u["change_manager"]]
    with at(5 * minute):
        ch = cs.change_request_approval(change=ch, actor=u["change_manager"], approvers=approvers)
    for approval in approvals_of(ch):
        with at((day if kind == "normal" else 0 * minute) + 10 * minute):
            cs.change_decide(
                approval=approval,
                actor=approval.approver,
                decision="approved",
                comment="Back-out rehearsed." if kind == "normal" else "Go: the fix is urgent.",
            )
    with at(10 * minute):
        return cs.change_schedule(
            change=ch, actor=u["change_manager"], planned_start=start, planned_end=end
        )


def change_outcome_replay(*, change: Any, outcome: str, u: dict[str, Any], now: datetime) -> Any:
    """Implement a scheduled change in its window and record how it went (a failure is
    backed out), then the post-implementation review a day or two later (once that is
    past). A change a go-live implemented already only gets its review."""
    from itsm.services import changes as cs

    actor = change.implementer or u["change_manager"]
    start, end = change.planned_start, change.planned_end
    if change.status == "scheduled":
        with history_at(start + timedelta(minutes=5)):
            change = cs.change_implement(change=change, actor=actor)
    with history_at(start + (end - start) * 0.8):
        if change.status != "implementing":
            pass  # implemented already (a release's go-live completes its change)
        elif outcome == "failed":
            change = cs.change_fail(
                change=change,
                actor=actor,
                comment="The smoke tests failed; backed out to the previous release.",
            )
        else:
            change = cs.change_complete(
                change=change,
                actor=actor,
                outcome=outcome,
                comment="Done." if outcome == "successful" else "Done; two users saw errors.",
            )
    review = local_moment(end.date() + timedelta(days=1 + change.pk % 2), 11)
    if review < now:
        with history_at(review):
            change = cs.change_close(
                change=change,
                actor=u["change_manager"],
                review_notes="Went as planned."
                if outcome == "successful"
                else "Lessons noted: rehearse the back-out in UAT with production data.",
            )
    return change


def seed_past_changes(u: dict[str, Any], template: Any, now: datetime) -> None:
    today = timezone.localdate()
    for days, kind, service_name, title, outcome in PAST_CHANGES:
        day = today - timedelta(days=days)
        hours = {"normal": (19, 21), "standard": (7, 8), "emergency": (2.5, 4)}[kind]
        window = (local_moment(day, hours[0]), local_moment(day, hours[1]))
        ch = change_replay(
            kind=kind,
            service=Service.objects.get(name=service_name),
            title=title,
            window=window,
            u=u,
            template=template,
        )
        change_outcome_replay(change=ch, outcome=outcome, u=u, now=now)
