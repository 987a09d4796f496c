"""Demo incidents: a few hundred, spread over every state, each driven through the real
services so its audit trail is genuine."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.models import AuditEvent, Comment, Service
from core.services import outbox_suppressed
from itsm import services
from itsm.models import HoldReason, Incident, Level, Problem, ResolutionCode
from itsm.services import problems as problem_services
from itsm.services.approvals import approvals_of
from sla.models import SlaClock
from sla.replay import clocks_rebuild
from sla.services import clocks_catch_up

User = get_user_model()
DEMO_INCIDENTS = 300

TITLES = {
    "Payroll": [
        "Payslip shows wrong tax code",
        "Overtime missing from this month's run",
        "Payroll export to bank fails",
        "Cannot download P60",
    ],
    "HR Portal": [
        "Leave request stuck in approval",
        "Cannot update my address",
        "Absence calendar is empty",
        "Login loops back to the start page",
    ],
    "Customer Portal": [
        "Checkout button does nothing",
        "Password reset email never arrives",
        "Invoices page times out",
        "Address form rejects valid postcodes",
    ],
    "Mobile App": [
        "App crashes on start after update",
        "Push notifications stopped",
        "Balance shows yesterday's value",
        "Face ID login fails",
    ],
    "Email & Calendar": [
        "Shared mailbox not visible",
        "Meeting invites arrive twice",
        "Cannot send attachments over 10 MB",
        "Calendar sync fails on phone",
    ],
}

# final state -> weight
SPREAD = [
    ("new", 10),
    ("assigned", 18),
    ("in_progress", 20),
    ("on_hold", 8),
    ("resolved", 12),
    ("closed", 26),
    ("cancelled", 6),
]


def _drive(inc: Incident, target: str, rnd: random.Random, u: dict[str, object]) -> None:
    agent, support2, developer = u["agent"], u["support2"], u["developer"]
    if target == "new":
        return
    if target == "cancelled":
        services.incident_cancel(
            incident=inc, actor=inc.requester, comment="Sorted itself out, sorry."
        )
        return
    # who works it: the desk, or escalated to 2nd or 3rd line
    depth = rnd.choices([1, 2, 3], weights=[5, 3, 2])[0]
    if depth == 3 and inc.service.development_team is None:
        depth = 2
    services.incident_assign(incident=inc, actor=agent, assignee=agent)
    worker = agent
    if depth >= 2:
        services.incident_escalate(
            incident=inc, actor=agent, reason="Needs application knowledge beyond the desk."
        )
        worker = support2
    if depth == 3:
        services.incident_escalate(
            incident=inc, actor=support2, reason="Looks like a defect in the application."
        )
        worker = developer
    if target == "assigned":
        return
    services.incident_start(incident=inc, actor=worker)
    if rnd.random() < 0.5:
        services.incident_comment(
            incident=inc, actor=worker, public=True, body="Thanks, we are looking into it."
        )
    if target == "in_progress":
        return
    if target == "on_hold":
        services.incident_hold(
            incident=inc,
            actor=worker,
            reason=rnd.choice(HoldReason.values),
            comment="Waiting before we can continue.",
        )
        return
    services.incident_resolve(
        incident=inc,
        actor=worker,
        resolution_code=rnd.choice(ResolutionCode.values[:4]),
        resolution_notes="Corrected the configuration and verified with the requester.",
    )
    if target == "closed":
        services.incident_close(incident=inc, actor=inc.requester, comment="Works now, thanks.")


def _backdate(inc: Incident, days: float) -> None:
    """Spread demo history over past weeks. Demo data only: timestamps, never state."""
    delta = timedelta(days=days)
    Incident.objects.filter(pk=inc.pk).update(
        created_at=F("created_at") - delta,
        updated_at=F("updated_at") - delta,
    )
    for field in ("responded_at", "resolved_at", "closed_at"):
        Incident.objects.filter(pk=inc.pk, **{f"{field}__isnull": False}).update(
            **{field: F(field) - delta}
        )
    ct = ContentType.objects.get_for_model(Incident)
    SlaClock.objects.filter(content_type=ct, object_id=inc.pk).delete()  # rebuilt after
    for model in (AuditEvent, Comment):
        model.objects.filter(content_type=ct, object_id=inc.pk).update(
            created_at=F("created_at") - delta
        )
    # the moments the history records (responded_at: — → …) move with it
    moved = ("responded_at", "resolved_at", "closed_at")
    for event in AuditEvent.objects.filter(content_type=ct, object_id=inc.pk):
        if any(event.changes.get(f) for f in moved):
            for f in moved:
                if event.changes.get(f):
                    event.changes[f] = [_shift(v, delta) for v in event.changes[f]]
            event.save(update_fields=["changes"])


def _shift(value: object, delta: timedelta) -> object:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return (moment - delta).isoformat() if moment else value


def _clocks_tell_the_story(inc: Incident, now: datetime) -> None:
    """Rebuild the clocks from the backdated history as it stood when it ended, then let
    the SLA engine live through the time since: every warning and breach fires at its own
    moment and the policy's escalation moves the incident, through the sweep's and the
    breach dispatch's own code. A breached P1 therefore shows its breach and escalation
    in its history and sits where the escalation put it — never a breach marked handled
    that nobody handled."""
    ct = ContentType.objects.get_for_model(Incident)
    history_end = (
        AuditEvent.objects.filter(content_type=ct, object_id=inc.pk)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    clocks_rebuild(inc, "incident", history_end or now)
    clocks_catch_up(ticket=inc, now=now)


def seed(stdout: TextIO) -> None:
    _seed_incidents(stdout)
    _seed_problems(stdout)
    _seed_catalogue(stdout)
    _seed_changes(stdout)
    _seed_canned_replies(stdout)
    _seed_major_incident(stdout)


def _seed_major_incident(stdout: TextIO) -> None:
    """The vendor's calendar sync outage as a major incident: its P1 the main one, the other
    open reports its children (issue 16: the incident manager's home and the README's
    screenshots show one). Priorities stay as reported: a change now would restart the
    SLA story ``_clocks_tell_the_story`` told."""
    from itsm.services.incident_links import incident_child_add

    if Incident.objects.filter(major_incident=True).exists():
        return
    manager = User.objects.get(username="incident_manager")
    reports = list(
        Incident.objects.filter(
            title="Calendar sync fails on phone",
            status__in=["new", "assigned", "in_progress", "on_hold"],
        ).order_by("priority", "created_at", "pk")
    )
    if len(reports) < 2:
        return
    main, children = reports[0], reports[1:5]
    with transaction.atomic(), outbox_suppressed():
        main = services.incident_update(incident=main, actor=manager, major_incident=True)
        services.incident_comment(
            incident=main,
            actor=manager,
            public=True,
            body="Declared a major incident: calendars stopped syncing to phones for many of "
            "us. The mail vendor is investigating; updates here every 30 minutes.",
        )
        for child in children:
            incident_child_add(parent=main, child=child, actor=manager)
    stdout.write(f"  {main.key} declared a major incident, {len(children)} children")


def _seed_canned_replies(stdout: TextIO) -> None:
    """Two replies the Service Desk shares and one of the agent's own (issue 12)."""
    from core.models import Team
    from itsm.models import CannedReply
    from itsm.services.canned import canned_reply_create

    if CannedReply.objects.exists():
        return
    agent = User.objects.get(username="agent")
    desk = Team.objects.get(name="Service Desk")
    replies = [
        (
            desk,
            "Acknowledge",
            "Hello {{ requester.first_name }},\n\nThank you for reporting this. {{ ticket.key }} "
            "({{ ticket.title }}) is with the service desk and we are looking into it now; "
            "you will hear from us as soon as we know more.\n\nKind regards,\n{{ agent.name }}",
        ),
        (
            desk,
            "Password reset",
            "Hello {{ requester.first_name }},\n\nWe have reset your {{ ticket.service }} "
            "password. Please sign in with the temporary password sent to you separately and "
            "choose a new one. If it still fails, reply here and quote {{ ticket.key }}."
            "\n\n{{ agent.first_name }}",
        ),
        (
            None,
            "Need more detail",
            "Hi {{ requester.first_name }}, could you send a screenshot of the error and the "
            "time it happened? That will help us find it in the logs.\n\n{{ agent.first_name }}",
        ),
    ]
    with outbox_suppressed():
        for team, title, body in replies:
            canned_reply_create(actor=agent, title=title, body=body, team=team)
    stdout.write(f"  {len(replies)} canned replies")


def _seed_changes(stdout: TextIO) -> None:
    """A freeze window, a standard template, and changes along each path."""
    from datetime import time

    from itsm.models import Change, FreezeWindow, StandardChangeTemplate
    from itsm.services import changes as cs

    if Change.objects.exists():
        stdout.write(f"  {Change.objects.count()} changes already there")
        return
    u = {
        n: User.objects.get(username=n)
        for n in ("developer", "change_manager", "release_manager", "project_manager", "support2")
    }
    payroll, portal = (
        Service.objects.get(name="Payroll"),
        Service.objects.get(name="Customer Portal"),
    )
    today = timezone.localdate()
    tz = timezone.get_current_timezone()

    def at(days: int, hour: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(hour), tzinfo=tz)

    year_end = datetime(today.year, 12, 20, tzinfo=tz)
    FreezeWindow.objects.get_or_create(
        name="Year-end freeze",
        defaults={
            "start": year_end,
            "end": year_end + timedelta(days=14),
            "reason": "Payroll year-end and holidays",
        },
    )
    template, _ = StandardChangeTemplate.objects.get_or_create(
        name="Restart the payroll batch scheduler",
        defaults={
            "implementation_plan": "Stop the scheduler, clear the lock file, start it.",
            "backout_plan": "Start the previous scheduler instance.",
            "test_plan": "Run the heartbeat job.",
        },
    )
    template.services.add(payroll)
    plans = {
        "implementation_plan": "Deploy the release with the pipeline; migrate the database.",
        "backout_plan": "Redeploy the previous release; restore the database snapshot.",
        "test_plan": "Automated smoke tests, then a payroll dry run.",
    }
    with transaction.atomic(), outbox_suppressed():
        # normal, approved and scheduled next week
        ch = cs.change_create(
            actor=u["developer"],
            title="Payroll 2.3: new tax tables",
            services=[payroll],
            implementer=u["developer"],
            reason="Tax tables change on 1 January.",
            **plans,
        )
        ch = cs.change_submit(change=ch, actor=u["developer"])
        ch = cs.change_assess(
            change=ch,
            actor=u["change_manager"],
            risk_answers={"many_users": True, "business_hours": False},
        )
        ch = cs.change_request_approval(
            change=ch,
            actor=u["change_manager"],
            approvers=[u["release_manager"], u["project_manager"]],
        )
        for a in approvals_of(ch):
            cs.change_decide(
                approval=a,
                actor=a.approver,
                decision="approved",
                comment="Back-out rehearsed in UAT.",
            )
        cs.change_schedule(
            change=ch, actor=u["change_manager"], planned_start=at(7, 19), planned_end=at(7, 21)
        )
        # normal, waiting for the CAB
        ch = cs.change_create(
            actor=u["developer"],
            title="Customer portal: new checkout",
            services=[portal],
            implementer=u["developer"],
            **plans,
            planned_start=at(10, 20),
            planned_end=at(10, 23),
        )
        ch = cs.change_submit(change=ch, actor=u["developer"])
        ch = cs.change_assess(
            change=ch,
            actor=u["change_manager"],
            risk_answers={"many_users": True, "first_time": True, "untested": True},
        )
        cs.change_request_approval(
            change=ch,
            actor=u["change_manager"],
            approvers=[u["change_manager"], u["release_manager"]],
        )
        # two more before the CAB, one approver decided (issue 16: the CAB board has a week)
        for title, service, answers, approvers, days in (
            (
                "HR Portal: single sign-on with the new identity provider",
                "HR Portal",
                {"many_users": True},
                ["project_manager", "change_manager"],
                12,
            ),
            (
                "Mobile app 4.2: offline balance",
                "Mobile App",
                {"many_users": True, "first_time": True},
                ["release_manager", "change_manager"],
                14,
            ),
        ):
            ch = cs.change_create(
                actor=u["developer"],
                title=title,
                services=[Service.objects.get(name=service)],
                implementer=u["developer"],
                **plans,
                planned_start=at(days, 19),
                planned_end=at(days, 22),
            )
            ch = cs.change_submit(change=ch, actor=u["developer"])
            ch = cs.change_assess(change=ch, actor=u["change_manager"], risk_answers=answers)
            ch = cs.change_request_approval(
                change=ch,
                actor=u["change_manager"],
                approvers=[u[name] for name in approvers],
            )
            first = approvals_of(ch).filter(approver=u[approvers[0]]).first()
            if first is not None:
                cs.change_decide(
                    approval=first,
                    actor=first.approver,
                    decision="approved",
                    comment="Fine from my side; rehearse the back-out first.",
                )
        # standard, scheduled tomorrow
        ch = cs.change_create(actor=u["support2"], type="standard", template=template)
        ch = cs.change_submit(change=ch, actor=u["support2"])
        cs.change_schedule(
            change=ch, actor=u["change_manager"], planned_start=at(1, 7), planned_end=at(1, 8)
        )
        # a draft
        cs.change_create(
            actor=u["developer"],
            title="Mobile app: push provider migration",
            services=[Service.objects.get(name="Mobile App")],
        )
    stdout.write(f"  {Change.objects.count()} changes")


def _seed_catalogue(stdout: TextIO) -> None:
    """Three catalogue items: one needs the manager, one a named group, one nothing."""
    from django.contrib.auth.models import Group

    from core.models import Team, UserProfile
    from itsm.models import CatalogField, CatalogItem, CatalogTaskTemplate

    manager = User.objects.get(username="project_manager")
    for username in ("requester", "requester2", "agent", "developer"):
        UserProfile.objects.get_or_create(
            user=User.objects.get(username=username), defaults={"manager": manager}
        )
    owners, _ = Group.objects.get_or_create(name="Payroll data owners")
    owners.user_set.add(User.objects.get(username="incident_manager"))
    support = Team.objects.get(name="Business Applications Support")
    digital = Team.objects.get(name="Digital Channels Support")
    items = [
        (
            "New laptop",
            "A laptop for a new starter or a replacement.",
            "HR Portal",
            "manager",
            None,
            support,
            [
                ("model", "Model", "choice", True, 'Standard 14"\nDeveloper 16"'),
                ("needed_by", "Needed by", "date", True, ""),
                ("for_user", "For (username)", "user", False, ""),
                ("justification", "Why", "text", True, ""),
            ],
            ["Order the laptop", "Image it and install the standard software", "Hand it over"],
        ),
        (
            "Payroll report access",
            "Read access to payroll reports.",
            "Payroll",
            "group",
            owners,
            support,
            [
                ("report", "Report", "choice", True, "Monthly totals\nCost centres\nOvertime"),
                ("until", "Access until", "date", False, ""),
            ],
            ["Grant the report role", "Confirm access with the requester"],
        ),
        (
            "Customer portal test account",
            "A test login on the customer portal.",
            "Customer Portal",
            "none",
            None,
            digital,
            [
                ("environment", "Environment", "choice", True, "UAT\nStaging"),
                ("accounts", "How many", "number", True, ""),
            ],
            ["Create the accounts"],
        ),
    ]
    made = 0
    for name, description, service, approval, group, team, fields, tasks in items:
        item, created = CatalogItem.objects.get_or_create(
            name=name,
            defaults={
                "description": description,
                "service": Service.objects.get(name=service),
                "approval": approval,
                "approval_group": group,
                "fulfilment_team": team,
            },
        )
        if not created:
            continue
        made += 1
        for i, (fname, label, kind, required, choices) in enumerate(fields):
            CatalogField.objects.create(
                item=item,
                name=fname,
                label=label,
                type=kind,
                required=required,
                choices=choices,
                order=i,
            )
        for i, title in enumerate(tasks):
            CatalogTaskTemplate.objects.create(item=item, title=title, order=i)
    stdout.write(f"  {made} catalogue items added ({CatalogItem.objects.count()} in all)")


def _seed_problems(stdout: TextIO) -> None:
    """Three problems behind the recurring demo incidents, at different stages."""
    if Problem.objects.exists():
        stdout.write(f"  {Problem.objects.count()} problems already there")
        return
    pm = User.objects.get(username="problem_manager")
    developer = User.objects.get(username="developer")
    with transaction.atomic(), outbox_suppressed():
        for title, stage in [
            ("Payroll export to bank fails", "known_error"),
            ("Login loops back to the start page", "investigating"),
            ("Push notifications stopped", "new"),
        ]:
            incidents = list(Incident.objects.filter(title=title, problem__isnull=True)[:6])
            if not incidents:
                continue
            problem = problem_services.problem_create(
                actor=pm,
                title=title,
                service=incidents[0].service,
                incidents=incidents,
                impact="high",
                urgency="medium",
                description=f"{len(incidents)} incidents report the same symptom.",
            )
            if stage == "new":
                continue
            problem = problem_services.problem_investigate(
                problem=problem, actor=pm, assignee=developer
            )
            if stage == "known_error":
                problem = problem_services.problem_mark_known_error(
                    problem=problem,
                    actor=developer,
                    root_cause="The bank file exceeds the gateway's 10 MB limit.",
                    workaround="Run the export per cost centre (Payroll › Export › Split).",
                )
                problem_services.problem_publish_workaround(problem=problem, actor=developer)
    stdout.write(f"  {Problem.objects.count()} problems")


def _seed_incidents(stdout: TextIO) -> None:
    existing = Incident.objects.count()
    if existing >= DEMO_INCIDENTS:
        stdout.write(f"  {existing} incidents already there")
        return
    rnd = random.Random(1042)
    u = {
        name: User.objects.get(username=name)
        for name in ("requester", "requester2", "agent", "support2", "developer")
    }
    svc = list(Service.objects.all())
    now = timezone.now()
    # The demo's history is backfilled, not happening now: its notices are not sent.
    with transaction.atomic(), outbox_suppressed():
        for _ in range(DEMO_INCIDENTS - existing):
            service = rnd.choice(svc)
            requester = rnd.choice([u["requester"], u["requester2"]])
            target = rnd.choices([s for s, _ in SPREAD], weights=[w for _, w in SPREAD])[0]
            by_agent = rnd.random() < 0.3
            inc = services.incident_create(
                actor=u["agent"] if by_agent else requester,
                requester=requester,
                title=rnd.choice(TITLES.get(service.name, ["Something is broken"])),
                description="Reported by phone." if by_agent else "It worked last week.",
                service=service,
                impact=rnd.choice(Level.values),
                urgency=rnd.choice(Level.values),
                category="software",
            )
            _drive(inc, target, rnd, u)
            # open and recently resolved work is recent; closed work spreads over 60 days
            age = {"closed": 60, "cancelled": 60, "resolved": 2}.get(target, 10)
            _backdate(inc, rnd.uniform(0, age))
            _clocks_tell_the_story(inc, now)
    stdout.write(f"  {Incident.objects.count()} incidents")
