"""Demo: a project per development team, releases, and the tier-3 demo incidents as
defects on them (linked, not copied); an enhancement delivering the tax-table change."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.models import Service, Team
from core.services import outbox_suppressed
from itsm.models import Change, Incident
from projects import services
from projects.models import Kind, Project, Release

User = get_user_model()


def seed(stdout: TextIO) -> None:
    _seed_projects(stdout)
    _seed_past_releases(stdout)
    _seed_time(stdout)
    _seed_iterations(stdout)
    _seed_structure(stdout)


# Releases that went live in past weeks: (project, version, name, days ago, service).
PAST_RELEASES = [
    ("PAY", "2.1", "Spring fixes", 71, "Payroll"),
    ("DIG", "5.0", "New login", 52, "Customer Portal"),
    ("PAY", "2.2", "Pension export", 33, "HR Portal"),
    ("DIG", "5.0.1", "Login fixes", 8, "Mobile App"),
]


def _seed_past_releases(stdout: TextIO) -> None:
    """Releases that went live at different past dates (issue 16: the dashboards' incidents
    around each go-live), each replayed as it happened (``history_at``): planned a month
    ahead, developed, handed over to UAT, signed off, its deploying change through the
    CAB, live in the change's window through the gate, the change reviewed the next day."""
    from core.services import history_at
    from itsm.demo.changes import change_outcome_replay, change_replay, local_moment

    if Release.objects.filter(went_live_at__isnull=False).exists():
        return
    u = {
        n: User.objects.get(username=n)
        for n in (
            "developer",
            "change_manager",
            "release_manager",
            "project_manager",
            "support2",
        )
    }
    today = timezone.localdate()
    now = timezone.now()
    made = 0
    with transaction.atomic(), outbox_suppressed():
        for code, version, name, days, service_name in PAST_RELEASES:
            project = Project.objects.filter(code=code).first()
            if project is None:
                continue
            day = today - timedelta(days=days)
            live_at = local_moment(day, 19)
            with history_at(local_moment(day - timedelta(days=30), 10)):
                release = services.release_create(
                    actor=u["project_manager"],
                    project=project,
                    version=version,
                    name=name,
                    planned_date=day,
                )
            for offset, step in ((28, "start_development"), (7, "start_testing")):
                with history_at(local_moment(day - timedelta(days=offset), 9)):
                    release = services.release_transition(
                        release=release, actor=u["project_manager"], name=step
                    )
            change = change_replay(
                kind="normal",
                service=Service.objects.get(name=service_name),
                title=f"{project.code} {version}: {name}",
                window=(live_at, live_at + timedelta(hours=2)),
                u=u,
            )
            with history_at(local_moment(day - timedelta(days=2), 15)):
                release = services.release_set_change(
                    release=release, actor=u["release_manager"], change=change
                )
                release = services.release_sign_off_uat(release=release, actor=u["support2"])
                release = services.release_transition(
                    release=release, actor=u["release_manager"], name="ready"
                )
            with history_at(live_at + timedelta(minutes=10)):
                release = services.release_go_live(release=release, actor=u["release_manager"])
            change.refresh_from_db()
            change_outcome_replay(change=change, outcome="", u=u, now=now)
            made += 1
    stdout.write(f"  {made} releases live in past weeks")


def _seed_structure(stdout: TextIO) -> None:
    """PAY's components, an epic over the payslip stories, labels, and one blocker."""
    from projects.iterations import work_item_edit
    from projects.models import Component, WorkItem
    from projects.services import structure

    project = Project.objects.filter(code="PAY").first()
    if project is None or Component.objects.filter(project=project).exists():
        return
    pm = User.objects.get(username="project_manager")
    developer = User.objects.get(username="developer")
    items = {w.title: w for w in WorkItem.objects.filter(project=project)}
    with transaction.atomic(), outbox_suppressed():
        for name, description in (
            ("Payslips", "The payslip, on screen and as a PDF."),
            ("Pension", "Contributions and the export to the provider."),
            ("Self-service", "What employees change themselves."),
        ):
            structure.component_create(
                project=project, actor=pm, name=name, description=description
            )
        epic = services.work_item_create(
            actor=developer,
            kind=Kind.ENHANCEMENT,
            project=project,
            title="Payslips employees can use on any device",
            labels=["epic", "payslip"],
            components=["Payslips"],
        )
        for title, labels, components in (
            ("Payslip as a PDF download", ["payslip", "pdf"], ["Payslips"]),
            ("Payslip layout for small screens", ["payslip", "mobile"], ["Payslips"]),
            ("Export contributions to the pension provider", ["integration"], ["Pension"]),
            ("Self-service address change", ["hr-portal"], ["Self-service"]),
        ):
            item = items.get(title)
            if item is None:
                continue
            fields: dict[str, Any] = {"labels": labels, "components": components}
            if components == ["Payslips"]:
                fields["parent"] = epic
            work_item_edit(item=item, actor=developer, **fields)
        address = items.get("Self-service address change")
        pension = items.get("Export contributions to the pension provider")
        if address is not None and pension is not None:
            structure.work_item_link_add(
                item=address, other=pension, kind="relates", actor=developer
            )
    stdout.write("  components, an epic and labels on PAY")


def _seed_iterations(stdout: TextIO) -> None:
    """PAY plans in two-week iterations: the last one closed (one item carried over),
    this one active, the next planned. Replayed through the services as of the days
    they stand for, so the burndown and the velocity show a real fortnight."""
    from datetime import datetime, time
    from decimal import Decimal

    from core.services import history_at
    from projects import iterations
    from projects.models import Iteration

    project = Project.objects.filter(code="PAY").first()
    if project is None or Iteration.objects.exists():
        return
    pm = User.objects.get(username="project_manager")
    developer = User.objects.get(username="developer")
    release = Release.objects.filter(project=project, version="2.4").first()
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(days=14)
    now = timezone.now()
    zone = timezone.get_current_timezone()

    def moment(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=zone)

    steps: list[tuple[datetime, Any]] = []
    made: dict[str, Any] = {}

    def plan_sprints() -> None:
        for name, start, goal in (
            ("PAY Sprint 1", first, "Payslips as PDF"),
            ("PAY Sprint 2", monday, "Pension export and the carried-over address change"),
            ("PAY Sprint 3", monday + timedelta(days=14), ""),
        ):
            made[name] = iterations.iteration_create(
                actor=pm,
                project=project,
                name=name,
                goal=goal,
                start=start,
                end=start + timedelta(days=11),
            )
        for key, title, hours in (
            ("pdf", "Payslip as a PDF download", "8"),
            ("layout", "Payslip layout for small screens", "5"),
            ("address", "Self-service address change", "13"),
            ("pension", "Export contributions to the pension provider", "8"),
        ):
            made[key] = services.work_item_create(
                actor=developer,
                kind=Kind.ENHANCEMENT,
                project=project,
                title=title,
                estimate_hours=Decimal(hours),
                target_release=release,
            )
        for key in ("pdf", "layout", "address"):
            iterations.work_item_plan(
                item=made[key], iteration=made["PAY Sprint 1"], actor=developer
            )

    def work(key: str, name: str) -> Any:
        return lambda: services.WORK_TRANSITION_SERVICES[name](item=made[key], actor=developer)

    steps = [
        (moment(first - timedelta(days=3), 10), plan_sprints),
        (
            moment(first, 9),
            lambda: iterations.iteration_start(iteration=made["PAY Sprint 1"], actor=pm),
        ),
        (moment(first + timedelta(days=1), 10), work("pdf", "start")),
        (moment(first + timedelta(days=3), 16), work("pdf", "fix")),
        (moment(first + timedelta(days=4), 10), work("layout", "start")),
        (moment(first + timedelta(days=8), 15), work("layout", "fix")),
        (moment(first + timedelta(days=9), 10), work("address", "start")),
        (
            moment(first + timedelta(days=11), 17),
            lambda: iterations.iteration_close(
                iteration=made["PAY Sprint 1"],
                actor=pm,
                move_to=made["PAY Sprint 2"],
                comment="The address change needs the HR Portal API first.",
            ),
        ),
        (
            moment(monday, 9),
            lambda: iterations.work_item_plan(
                item=made["pension"], iteration=made["PAY Sprint 2"], actor=developer
            ),
        ),
        (
            moment(monday, 10),
            lambda: iterations.iteration_start(iteration=made["PAY Sprint 2"], actor=pm),
        ),
        (moment(monday + timedelta(days=1), 10), work("pension", "start")),
    ]
    with transaction.atomic(), outbox_suppressed():
        for at, step in steps:
            if at > now:
                break
            with history_at(at):
                step()
            for key in ("pdf", "layout", "address", "pension"):
                if key in made:
                    made[key].refresh_from_db()
            for key in [k for k in made if k.startswith("PAY Sprint")]:
                made[key].refresh_from_db()
    stdout.write(f"  {Iteration.objects.count()} iterations")


def _seed_time(stdout: TextIO) -> None:
    """The developer's time: this week some 3rd-line support and mostly project work; and
    over the past weeks, on the days each incident sat in a development team's queue
    (from its escalation to tier 3 until it was resolved), an hour or so of analysis on
    some days, logged as of that evening (the 3rd-line load against the reserved
    share on the projects dashboard)."""
    import random
    from datetime import datetime, time

    from django.contrib.contenttypes.models import ContentType

    from core.models import AuditEvent
    from core.services import history_at
    from itsm.demo import updated_at_kept
    from projects.capacity import time_log
    from projects.models import TimeEntry, WorkItem

    if TimeEntry.objects.exists():
        return
    rnd = random.Random(1916)
    developer = User.objects.get(username="developer")
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    zone = timezone.get_current_timezone()
    incidents = list(Incident.objects.filter(tier=3).order_by("pk"))
    items = list(WorkItem.objects.order_by("pk")[:2])
    ct = ContentType.objects.get_for_model(Incident)
    reached = {  # the moment each incident reached tier 3
        a.object_id: a.created_at
        for a in AuditEvent.objects.filter(
            content_type=ct, object_id__in=[i.pk for i in incidents], action="escalate"
        ).order_by("created_at")
        if (a.changes.get("tier") or [None, None])[1] == 3
    }
    with transaction.atomic(), outbox_suppressed():
        for inc in incidents:
            since = reached.get(inc.pk)
            if since is None or inc.resolved_at is None:
                # an open incident's clocks run: a row dated in its past would move them
                # back (its time is logged this week, below)
                continue
            first = timezone.localtime(since).date()
            last = timezone.localtime(inc.resolved_at).date()
            for n in range((min(last, today) - first).days + 1):
                day = first + timedelta(days=n)
                if day.weekday() >= 5 or day >= monday or rnd.random() < 0.2:
                    continue  # weekends; this week is below; not every day
                # that evening, or soon after it came in when it came in late
                moment = max(
                    datetime.combine(day, time(17), tzinfo=zone), since + timedelta(minutes=30)
                )
                with history_at(moment), updated_at_kept(inc):
                    time_log(
                        actor=developer,
                        target=inc,
                        hours=rnd.choice(["1", "1.5", "2", "3"]),
                        on=day,
                        note="3rd-line analysis",
                    )
        for offset in range(0, (today - monday).days + 1):
            day = monday + timedelta(days=offset)
            for inc in [i for i in incidents if i.is_open][:2]:
                time_log(actor=developer, target=inc, hours="1.5", on=day, note="3rd-line analysis")
            for item in items:
                time_log(actor=developer, target=item, hours="2.5", on=day)
    stdout.write(f"  {TimeEntry.objects.count()} time entries")


def _seed_projects(stdout: TextIO) -> None:
    if Project.objects.exists():
        stdout.write(f"  {Project.objects.count()} projects already there")
        return
    pm = User.objects.get(username="project_manager")
    developer = User.objects.get(username="developer")
    support2 = User.objects.get(username="support2")
    today = timezone.localdate()
    with transaction.atomic(), outbox_suppressed():
        specs = [
            (
                "PAY",
                "Payroll & HR",
                "Payroll & HR Development",
                ["Payroll", "HR Portal"],
                [
                    ("2.3", "Tax year", 7, "testing"),
                    ("2.4", "Self-service payslips", 35, "planning"),
                ],
            ),
            (
                "DIG",
                "Digital Channels",
                "Digital Channels Development",
                ["Customer Portal", "Mobile App"],
                [("5.1", "New checkout", 10, "development")],
            ),
        ]
        # the tax-year release deploys through the demo's scheduled change
        tax_change = Change.objects.filter(title__startswith="Payroll 2.3").first()
        for code, name, team, service_names, releases in specs:
            project = Project.objects.create(
                code=code, name=name, project_manager=pm, team=Team.objects.get(name=team)
            )
            project.services.set(Service.objects.filter(name__in=service_names))
            for version, title, days, stage in releases:
                release = services.release_create(
                    actor=pm,
                    project=project,
                    version=version,
                    name=title,
                    planned_date=today + timedelta(days=days),
                    change=tax_change if (code, version) == ("PAY", "2.3") else None,
                )
                for step in {
                    "planning": [],
                    "development": ["start_development"],
                    "testing": ["start_development", "start_testing"],
                }[stage]:
                    services.release_transition(release=release, actor=pm, name=step)
        pay23 = Release.objects.get(project__code="PAY", version="2.3")
        if tax_change:
            enh = services.work_item_create(
                actor=developer,
                kind=Kind.ENHANCEMENT,
                project=pay23.project,
                priority=2,
                title="New tax tables for the coming tax year",
                target_release=pay23,
            )
            services.enhancement_link_change(item=enh, actor=developer, change=tax_change)
        # the open tier-3 incidents become defects, grouped by title
        by_title: dict[str, object] = {}
        for inc in Incident.objects.filter(
            tier=3, status__in=["assigned", "in_progress", "on_hold"]
        ).order_by("pk")[:12]:
            defect = by_title.get(inc.title)
            # whoever works it at tier 3 raises the defect (its assignee, else its team)
            worker = inc.assignee or (inc.team.members.first() if inc.team else None)
            by_title[inc.title] = services.incident_to_development(
                incident=inc,
                actor=worker or support2,
                reason="Reproduced: a defect in the application.",
                defect=defect,
            )
    stdout.write(
        f"  {Project.objects.count()} projects, {Release.objects.count()} releases, "
        f"{len(by_title)} defects from incidents"
    )
