"""Demo incidents: a few hundred, spread over every state and the past 13 weeks, each
replayed through the real services at the moments it lived (``history_at``) so its audit
trail, its SLA clocks and the dashboards' figures are genuine; problems, the catalogue,
canned replies, the major incident and changes (their past stories: ``itsm.demo.changes``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.models import Service, Team
from core.services import history_at, outbox_suppressed
from itsm import services
from itsm.demo.changes import PLANS, seed_past_changes
from itsm.models import HoldReason, Incident, Level, Problem, ResolutionCode
from itsm.models.incident import priority_for
from itsm.services import problems as problem_services
from itsm.services.approvals import approvals_of
from sla.selectors import calendar_spec
from sla.services import clocks_catch_up, policy_for

User = get_user_model()
DEMO_INCIDENTS = 300
OPEN_STATES = ("new", "assigned", "in_progress", "on_hold")

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

# final state -> weight: most stories have run their course over the past weeks, the
# rest fill today's queues
SPREAD = [
    ("new", 5),
    ("assigned", 9),
    ("in_progress", 11),
    ("on_hold", 5),
    ("resolved", 8),
    ("closed", 56),
    ("cancelled", 6),
]


# How long each step takes, as a share of the priority's SLA target (business time on the
# policy's calendar): most well inside it, some close, a few late (those breach).
def _share(rnd: random.Random, late: float = 0.12) -> float:
    r = rnd.random()
    if r < late:
        return rnd.uniform(1.05, 2.2)
    if r < late + 0.2:
        return rnd.uniform(0.6, 1.0)
    return rnd.uniform(0.05, 0.6)


# How far back an incident still open now may have been raised, in days, per priority
# (a P1 is never left for long; a P5 may wait weeks), and the share of each priority's
# open stories that ran their course instead (few P1s stay open).
OPEN_AGE = {1: 0.3, 2: 3, 3: 14, 4: 21, 5: 30}
FINISHED_INSTEAD = {1: 0.8, 2: 0.4}


@dataclass
class _Story:
    """One demo incident's life: what it is, and each step at its own moment."""

    service: Service
    requester: Any
    by_agent: bool
    title: str
    impact: str
    urgency: str
    target: str
    steps: list[tuple[datetime, str]] = field(default_factory=list)


def _plan(rnd: random.Random, raised: datetime, story: _Story, policy: Any, spec: Any) -> None:
    """Every step of the story from ``raised``, timed on the policy's calendar (the desk
    works in business hours; a P1's calendar is 24×7), cut where its final state says."""

    def later(start: datetime, minutes: float) -> datetime:
        return spec.add(start, max(minutes, 1) * 60)

    target = story.target
    steps = [(raised, "raise")]
    if target == "cancelled":
        if rnd.random() < 0.4:
            steps.append((later(raised, rnd.uniform(5, 60)), "respond"))
        steps.append((steps[-1][0] + timedelta(minutes=rnd.uniform(10, 600)), "cancel"))
        story.steps = steps
        return
    depth = rnd.choices([1, 2, 3], weights=[5, 3, 2])[0]
    if depth == 3 and story.service.development_team_id is None:
        depth = 2
    t = later(raised, _share(rnd) * policy.response_minutes)
    steps.append((t, "respond"))
    if depth >= 2:
        t = later(t, rnd.uniform(10, 120))
        steps.append((t, "escalate2"))
        t = later(t, rnd.uniform(10, 180))
        steps.append((t, "start"))
    if depth == 3:
        t = later(t, rnd.uniform(60, 600))
        steps.append((t, "escalate3"))
        t = later(t, rnd.uniform(30, 480))
        steps.append((t, "start"))
    if depth == 1:
        t = later(t, rnd.uniform(5, 60))
        steps.append((t, "start"))
    if rnd.random() < 0.5:
        t = t + timedelta(minutes=rnd.uniform(2, 30))
        steps.append((t, "reply"))
    if target == "on_hold" or rnd.random() < 0.12:
        t = later(t, rnd.uniform(30, 240))
        steps.append((t, "hold"))
        t = later(t + timedelta(hours=rnd.uniform(2, 48)), rnd.uniform(0, 60))
        steps.append((t, "resume"))
    t = max(later(raised, _share(rnd) * policy.resolution_minutes), later(t, 20))
    steps.append((t, "resolve"))
    if rnd.random() < 0.1:  # it came back: the requester reopens, it is fixed again
        t = later(t, rnd.uniform(60, 900))
        steps.append((t, "reopen"))
        t = later(t, rnd.uniform(30, 600))
        steps.append((t, "resolve"))
    if rnd.random() < 0.7:
        steps.append((t + timedelta(hours=rnd.uniform(1, 60)), "close"))
    else:  # nobody confirmed: Tandem closes it after the grace period
        steps.append((t + timedelta(days=settings.INCIDENT_AUTO_CLOSE_DAYS), "auto_close"))
    # cut where the final state says; steps still ahead of now do not happen (yet)
    cut = {
        "new": ("respond",),
        "assigned": ("start",) if depth == 1 else ("start", "escalate3"),
        "in_progress": ("hold", "resolve"),
        "on_hold": ("resume", "resolve"),
        "resolved": ("close", "auto_close"),
    }.get(target, ())
    if target == "assigned" and depth > 1:
        # left in the queue it was escalated to: nobody has started it there yet
        last_escalation = max(i for i, (_, s) in enumerate(steps) if s.startswith("escalate"))
        steps = steps[: last_escalation + 1]
    elif cut:
        steps = steps[: next((i for i, (_, s) in enumerate(steps) if s in cut), len(steps))]
    story.steps = steps


def _raised_at(rnd: random.Random, target: str, priority: int, now: datetime) -> datetime:
    """When a story with that ending starts: finished ones over the last 95 days, open ones
    recently (how recently by priority), a resolved one so that it awaits confirmation."""
    day = timedelta(days=1)
    if target in ("closed", "cancelled"):
        raised = now - rnd.uniform(1.5, 95) * day
    elif target == "resolved":
        raised = now - rnd.uniform(0.5, 6) * day
    elif target == "on_hold":
        raised = now - rnd.uniform(1, max(3, 1.5 * OPEN_AGE[priority])) * day
    else:
        raised = now - rnd.uniform(0.02, OPEN_AGE[priority]) * day
    if priority > 1 and rnd.random() < 0.85:  # mostly raised in working hours
        spec = calendar_spec(policy_for("incident", priority, None).calendar)
        raised = min(spec.add(raised, rnd.uniform(1, 120) * 60), now - timedelta(minutes=5))
    return raised


def _fit(
    rnd: random.Random, story: _Story, priority: int, now: datetime, policy: Any, spec: Any
) -> None:
    """Plan the story; a finished one (closed, cancelled, resolved awaiting confirmation)
    is moved back until its last step lies in the past."""
    raised = _raised_at(rnd, story.target, priority, now)
    state = rnd.getstate()  # each try draws the same story, moved in time
    for _ in range(6):
        rnd.setstate(state)
        _plan(rnd, raised, story, policy, spec)
        last = story.steps[-1][0]
        ends = {"resolved": "resolve"}.get(story.target)
        if ends:  # awaiting confirmation: resolved within the grace period
            last = max(m for m, s in story.steps if s == ends)
            early = now - timedelta(days=settings.INCIDENT_AUTO_CLOSE_DAYS) + timedelta(hours=2)
            if last < early:
                raised += early - last + timedelta(hours=rnd.uniform(0, 24))
                continue
        if story.target not in ("closed", "cancelled", "resolved") or last < now:
            break
        raised -= last - now + timedelta(hours=rnd.uniform(1, 48))
    story.steps = [(m, s) for m, s in story.steps if m < now]  # the rest has not happened


def _act(inc: Incident, step: str, workers: dict[int, Any], rnd: random.Random) -> Incident:
    """Take one step on the incident as it stands (a breach may have escalated it since
    the story was planned): whoever works its current queue acts."""
    inc.refresh_from_db()
    worker = workers.get(inc.team_id)
    status = inc.status
    if step == "cancel" and status in ("new", "assigned"):
        return services.incident_cancel(
            incident=inc, actor=inc.requester, comment="Sorted itself out, sorry."
        )
    if step == "respond" and status in ("new", "assigned") and inc.assignee_id is None:
        return services.incident_assign(incident=inc, actor=worker, assignee=worker)
    if step in ("escalate2", "escalate3") and inc.is_open and inc.tier < int(step[-1]):
        reason = {
            "escalate2": "Needs application knowledge beyond the desk.",
            "escalate3": "Looks like a defect in the application.",
        }[step]
        return services.incident_escalate(incident=inc, actor=worker, reason=reason)
    if step == "start" and status == "assigned":
        return services.incident_start(incident=inc, actor=worker)
    if step == "reply" and inc.is_open:
        services.incident_comment(
            incident=inc, actor=worker, public=True, body="Thanks, we are looking into it."
        )
        return inc
    if step == "hold" and status in ("assigned", "in_progress"):
        if status == "assigned":
            inc = services.incident_start(incident=inc, actor=worker)
        return services.incident_hold(
            incident=inc,
            actor=worker,
            reason=rnd.choice(HoldReason.values),
            comment="Waiting before we can continue.",
        )
    if step == "resume" and status == "on_hold":
        return services.incident_resume(incident=inc, actor=worker)
    if step == "resolve" and status in ("assigned", "in_progress", "on_hold"):
        if status == "on_hold":
            inc = services.incident_resume(incident=inc, actor=worker)
        return services.incident_resolve(
            incident=inc,
            actor=worker,
            resolution_code=rnd.choice(ResolutionCode.values[:4]),
            resolution_notes="Corrected the configuration and verified with the requester.",
        )
    if step == "reopen" and status == "resolved":
        return services.incident_reopen(
            incident=inc, actor=inc.requester, reason="It happened again this morning."
        )
    if step == "close" and status == "resolved":
        return services.incident_close(
            incident=inc, actor=inc.requester, comment="Works now, thanks."
        )
    if step == "auto_close" and status == "resolved":
        return services.incident_close(
            incident=inc,
            actor=None,
            comment=f"Closed automatically {settings.INCIDENT_AUTO_CLOSE_DAYS} days "
            "after resolution.",
        )
    return inc


def _clocks_tell_the_story(inc: Incident, moment: datetime) -> None:
    """Let the SLA engine live through the incident's life up to ``moment`` (the next
    step, or now at the end): every warning and breach fires at its own moment and the
    policy's escalation moves the incident, through the sweep's and the breach dispatch's
    own code, before the story goes on from where the escalation put it. A breached P1
    therefore shows its breach and escalation in its history and sits where the
    escalation put it — never a breach marked handled that nobody handled."""
    clocks_catch_up(ticket=inc, now=moment)


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


@contextmanager
def updated_at_kept(incident: Incident) -> Iterator[None]:
    """For work replayed on an incident after its story was told (time logged, an article
    linked): live, that work saves nothing on the incident, so its "last updated" stays;
    replayed, its audit row would date the incident back to that day."""
    updated_at = Incident.objects.values_list("updated_at", flat=True).get(pk=incident.pk)
    yield
    Incident.objects.filter(pk=incident.pk).update(updated_at=updated_at)


def _seed_changes(stdout: TextIO) -> None:
    """A freeze window, a standard template, and changes along each path."""
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
    plans = PLANS
    with transaction.atomic(), outbox_suppressed():
        seed_past_changes(u, template, timezone.now())
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
    """The demo's incidents, each replayed through the services step by step at the moment
    it happened (``history_at``): raised, answered, escalated, resolved, maybe reopened,
    closed, each step timed by its priority's SLA targets, some of them late. Stories are
    created in the order they started, so the keys follow the calendar."""
    existing = Incident.objects.count()
    if existing >= DEMO_INCIDENTS:
        stdout.write(f"  {existing} incidents already there")
        return
    rnd = random.Random(1042)
    u = {
        name: User.objects.get(username=name)
        for name in ("requester", "requester2", "agent", "support2", "developer")
    }
    workers = {team.pk: team.lead or team.members.first() for team in Team.objects.all()}
    svc = list(Service.objects.all())
    now = timezone.now()
    stories: list[_Story] = []
    for _ in range(DEMO_INCIDENTS - existing):
        service = rnd.choice(svc)
        impact, urgency = rnd.choice(Level.values), rnd.choice(Level.values)
        story = _Story(
            service=service,
            requester=rnd.choice([u["requester"], u["requester2"]]),
            by_agent=rnd.random() < 0.3,
            title=rnd.choice(TITLES.get(service.name, ["Something is broken"])),
            impact=impact,
            urgency=urgency,
            target=rnd.choices([s for s, _ in SPREAD], weights=[w for _, w in SPREAD])[0],
        )
        priority = priority_for(impact, urgency)
        if story.target in OPEN_STATES and rnd.random() < FINISHED_INSTEAD.get(priority, 0):
            story.target = "closed"
        policy = policy_for("incident", priority, service.pk)
        _fit(rnd, story, priority, now, policy, calendar_spec(policy.calendar))
        stories.append(story)
    stories.sort(key=lambda s: s.steps[0][0])
    # The demo's history is backfilled, not happening now: its notices are not sent.
    with transaction.atomic(), outbox_suppressed():
        for story in stories:
            with history_at(story.steps[0][0]):
                inc = services.incident_create(
                    actor=u["agent"] if story.by_agent else story.requester,
                    requester=story.requester,
                    title=story.title,
                    description="Reported by phone." if story.by_agent else "It worked last week.",
                    service=story.service,
                    impact=story.impact,
                    urgency=story.urgency,
                    category="software",
                )
            for moment, step in story.steps[1:]:
                _clocks_tell_the_story(inc, moment)
                with history_at(moment):
                    inc = _act(inc, step, workers, rnd)
            _clocks_tell_the_story(inc, now)
    stdout.write(f"  {Incident.objects.count()} incidents")
