"""Iterations (sprints): plan, start, close with carry-over; the capacity a team has for
one net of its 3rd-line reservation; the burndown and the velocity.

Writes follow the house pattern (one transaction, permission from ``projects.permissions``,
an audit row per record touched). Membership changes are recorded twice: on the work item
(``planned``, with the old and new iteration) and on each iteration concerned
(``item_added`` / ``item_removed`` / ``item_carried_over``, naming the item): the
burndown is rebuilt from those rows and the items' own state and estimate changes, so it
needs no worker and no snapshot table, and it is right for any day in the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from core.exceptions import ActionForbidden, ConflictError, IllegalTransition, ValidationFailed
from core.models import AuditEvent
from core.services import moment_now
from core.validation import ensure_date_near, ensure_lengths
from itsm.services.common import (
    created_changes,
    diff,
    ensure_editable,
    ensure_transition_possible,
    lock,
    record,
    require,
    save,
    snapshot,
)
from projects import permissions
from projects.capacity import support_shares
from projects.models import (
    IS,
    WORK_DONE_STATES,
    WORK_OPEN_STATES,
    Iteration,
    Project,
    WorkItem,
)

EDITABLE_FIELDS = ("name", "goal", "start", "end")
# Once closed, an iteration's dates are its record: only its words may still change.
EDITABLE_WHEN_CLOSED = ("name", "goal")
VELOCITY_ITERATIONS = 6
# A time box, not a calendar: a quarter at most (Linear's cycles stop at 8 weeks, Jira's
# sprint presets at 4). The burndown and capacity walk every day of it, so an unbounded
# span (year 1 to 9999) made the iteration page take minutes and its burndown 300 MB.
MAX_ITERATION_DAYS = 91
OPEN = {s.value for s in WORK_OPEN_STATES}
DONE = {s.value for s in WORK_DONE_STATES}


# --- reads --------------------------------------------------------------------------------
def iteration_list(user: Any) -> QuerySet[Iteration]:
    """Iterations, for the staff who see projects."""
    if not permissions.can_view(user):
        return Iteration.objects.none()
    return Iteration.objects.select_related("project__team", "project__calendar")


def iteration_get(user: Any, pk: int | str) -> Iteration:
    from core.exceptions import NotFound
    from core.ids import parse_id

    number = parse_id(pk if isinstance(pk, int) else str(pk))
    it = iteration_list(user).filter(pk=number).first() if number else None
    if it is None:
        raise NotFound("No such iteration.")
    return it


def next_planned(iteration: Iteration) -> Iteration | None:
    """The planned iteration that follows (the default home of unfinished items)."""
    return (
        Iteration.objects.filter(project_id=iteration.project_id, status=IS.PLANNED)
        .exclude(pk=iteration.pk)
        .order_by("start", "id")
        .first()
    )


def open_iterations(project: Project) -> QuerySet[Iteration]:
    """Where items may be planned: the project's planned and active iterations."""
    return Iteration.objects.filter(project=project, status__in=[IS.PLANNED, IS.ACTIVE]).order_by(
        "start", "id"
    )


def iteration_actions_for(user: Any, iteration: Iteration) -> list[tuple[str, str]]:
    """The transitions this user may fire now, as (op, label): the page offers exactly
    these and the services run the same checks."""
    if not permissions.can_plan_iterations(user, iteration.project):
        return []
    return [
        (op, t.custom["label"])
        for op, name in (("start", "start_iteration"), ("close", "close_iteration"))
        for t in iteration.get_available_status_transitions()
        if t.name == name
    ]


# --- writes -------------------------------------------------------------------------------
def _ensure_planner(actor: Any, project: Project) -> None:
    if not permissions.can_plan_iterations(actor, project):
        raise ActionForbidden(
            "Project Managers, the team lead and administrators plan the project's iterations."
        )


def _check_dates(start: Any, end: Any) -> None:
    require(start, "start", "A start date is required.")
    require(end, "end", "An end date is required.")
    if end < start:
        raise ValidationFailed("The iteration ends on or after its start.", field="end")
    if (end - start).days + 1 > MAX_ITERATION_DAYS:
        raise ValidationFailed(
            f"An iteration lasts at most {MAX_ITERATION_DAYS} days "
            f"({MAX_ITERATION_DAYS // 7} weeks).",
            field="end",
        )


def _check_name(project: Project, name: str, exclude: int | None = None) -> str:
    require(name and name.strip(), "name", "A name is required.")
    name = name.strip()
    if Iteration.objects.filter(project=project, name=name).exclude(pk=exclude).exists():
        raise ValidationFailed(f"{project.code} has an iteration '{name}' already.", field="name")
    return name


def iteration_create(
    *,
    actor: AbstractBaseUser,
    project: Project,
    name: str,
    start: date,
    end: date,
    goal: str = "",
) -> Iteration:
    """Plan a new iteration (planned) in a project that is not archived. Audit:
    ``created``."""
    from projects.services.projects import ensure_project_active

    _ensure_planner(actor, project)
    ensure_project_active(project, "new iterations")
    name = _check_name(project, name)
    ensure_lengths(Iteration, {"name": name, "goal": goal or ""})
    _check_dates(start, end)
    ensure_date_near(start, "start")
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the name check raced another create
                it = Iteration.objects.create(
                    project=project, name=name, goal=goal, start=start, end=end
                )
        except IntegrityError as exc:
            raise ConflictError(f"{project.code} has an iteration '{name}' already.") from exc
        record(it, actor, "created", to_state=it.status, changes=created_changes(it))
    return it


def iteration_update(*, iteration: Iteration, actor: AbstractBaseUser, **fields: Any) -> Iteration:
    """Edit name, goal, start, end (only name and goal once closed). Audit: ``updated``
    with the changed fields."""
    ensure_editable(fields, EDITABLE_FIELDS)
    ensure_lengths(Iteration, fields)
    for day in ("start", "end"):
        if fields.get(day) is not None and fields[day] != getattr(iteration, day):
            ensure_date_near(fields[day], day)
    with transaction.atomic():
        it = lock(iteration)
        _ensure_planner(actor, it.project)
        if it.status == IS.CLOSED:
            frozen = sorted(f for f in fields if f not in EDITABLE_WHEN_CLOSED)
            if frozen:
                raise IllegalTransition(
                    f"{it} is closed: its {' and '.join(frozen)} are its record."
                )
        if "name" in fields:
            fields["name"] = _check_name(it.project, fields["name"], exclude=it.pk)
        before = snapshot(it)
        for name, value in fields.items():
            setattr(it, name, value)
        _check_dates(it.start, it.end)
        try:
            with transaction.atomic():  # a savepoint: a rename raced another iteration's
                save(it)
        except IntegrityError as exc:
            raise ConflictError(f"{it.project.code} has an iteration '{it.name}' already.") from exc
        changes = diff(it, before)
        if changes:
            record(it, actor, "updated", changes=changes)
    return it


def _planned_hours(iteration: Iteration) -> Decimal:
    return sum((i.estimate_hours or Decimal(0) for i in iteration.items.all()), Decimal(0))


def iteration_start(
    *, iteration: Iteration, actor: AbstractBaseUser, comment: str = ""
) -> Iteration:
    """planned → active; one active iteration per project. Fixes the commitment (the
    planned estimate now). Audit: ``start_iteration``."""
    with transaction.atomic():
        it = lock(iteration)
        _ensure_planner(actor, it.project)
        ensure_transition_possible(it, "start_iteration")
        running = (
            Iteration.objects.filter(project_id=it.project_id, status=IS.ACTIVE)
            .exclude(pk=it.pk)
            .first()
        )
        if running is not None:
            raise IllegalTransition(f"{running} is still active: close it first.")
        it.start_iteration()
        it.started_at = moment_now()
        it.committed_hours = _planned_hours(it)
        try:
            save(it)
        except IntegrityError as exc:  # another iteration started at the same moment
            raise ConflictError(f"Another iteration of {it.project} has just started.") from exc
        record(
            it,
            actor,
            "start_iteration",
            from_state=IS.PLANNED,
            to_state=it.status,
            comment=comment or f"Committed {it.committed_hours} h.",
        )
    return it


def _membership(iteration: Iteration, actor: Any, action: str, item: WorkItem, note: str) -> None:
    old, new = (item, None) if action != "item_added" else (None, item)
    record(iteration, actor, action, changes={"item": (old, new)}, comment=note)


def iteration_close(
    *,
    iteration: Iteration,
    actor: AbstractBaseUser,
    move_to: Iteration | None = None,
    comment: str = "",
) -> Iteration:
    """active → closed. Unfinished items (still open) move to ``move_to`` (a planned
    iteration of the project) or back to the backlog (None); each move is recorded on the
    item (``carried_over``) and on both iterations. Done items stay: what they weigh is the
    iteration's completed estimate (velocity). Audit: ``close_iteration``."""
    with transaction.atomic():
        it = lock(iteration)
        _ensure_planner(actor, it.project)
        ensure_transition_possible(it, "close_iteration")
        if move_to is not None:
            move_to = lock(move_to)
            if move_to.project_id != it.project_id or move_to.status != IS.PLANNED:
                raise ValidationFailed(
                    f"{move_to} cannot take them: name a planned iteration of {it.project}.",
                    field="move_to",
                )
        it.close_iteration()
        it.closed_at = moment_now()
        items = list(it.items.select_for_update().order_by("pk"))
        unfinished = [i for i in items if i.status in OPEN]
        it.completed_hours = sum(
            (i.estimate_hours or Decimal(0) for i in items if i.status in DONE), Decimal(0)
        )
        save(it)
        where = str(move_to) if move_to else "the backlog"
        keys = ", ".join(i.key for i in unfinished)
        record(
            it,
            actor,
            "close_iteration",
            from_state=IS.ACTIVE,
            to_state=it.status,
            comment=" ".join(
                p
                for p in (
                    f"Completed {it.completed_hours} h.",
                    f"Unfinished to {where}: {keys}." if unfinished else "Nothing unfinished.",
                    comment,
                )
                if p
            ),
        )
        for item in unfinished:
            item.iteration = move_to
            save(item)
            note = f"Unfinished when {it} closed: to {where}."
            record(item, actor, "carried_over", changes={"iteration": (it, move_to)}, comment=note)
            _membership(it, actor, "item_carried_over", item, note)
            if move_to is not None:
                _membership(move_to, actor, "item_added", item, f"Carried over from {it}.")
    return it


def work_item_plan(
    *, item: WorkItem, iteration: Iteration | None, actor: AbstractBaseUser
) -> WorkItem:
    """Plan an open item into a planned or active iteration of its project, or take it
    back to the backlog (None). Audit: ``planned`` on the item, ``item_added`` /
    ``item_removed`` on the iterations concerned. No change, no rows."""
    with transaction.atomic():
        w = lock(item)
        if not permissions.can_plan_items(actor, w.project):
            raise ActionForbidden(f"Only {w.project.team} and its managers plan {w.key}.")
        current = Iteration.objects.filter(pk=w.iteration_id).first() if w.iteration_id else None
        if (current.pk if current else None) == (iteration.pk if iteration else None):
            return w
        if current is not None and current.status == IS.CLOSED:
            raise IllegalTransition(f"{w.key} was done in {current}, which is closed.")
        if iteration is not None:
            if iteration.project_id != w.project_id:
                raise ValidationFailed(
                    f"{iteration} is not an iteration of {w.project}.", field="iteration"
                )
            if iteration.status == IS.CLOSED:
                raise ValidationFailed(f"{iteration} is closed.", field="iteration")
            if w.status not in OPEN:
                raise IllegalTransition(
                    f"{w.key} is {w.get_status_display().lower()}: only open work is planned."
                )
        w.iteration = iteration
        save(w)
        where = str(iteration) if iteration else "the backlog"
        record(w, actor, "planned", changes={"iteration": (current, iteration)}, comment=where)
        if current is not None:
            _membership(current, actor, "item_removed", w, f"To {where}.")
        if iteration is not None:
            _membership(iteration, actor, "item_added", w, f"From {current or 'the backlog'}.")
    return w


def work_item_edit(*, item: WorkItem, actor: AbstractBaseUser, **fields: Any) -> WorkItem:
    """An edit of a work item that may also plan it (``iteration``): both in one
    transaction, each through its own service and rules."""
    from projects.services import work_item_update

    plan = "iteration" in fields
    iteration = fields.pop("iteration", None)
    with transaction.atomic():
        if fields:
            item = work_item_update(item=item, actor=actor, **fields)
        if plan:
            item = work_item_plan(item=item, iteration=iteration, actor=actor)
    return item


ITERATION_TRANSITION_SERVICES = {"start": iteration_start, "close": iteration_close}


# --- capacity -----------------------------------------------------------------------------
def _day_hours(calendar: Any) -> Any:
    """Hours of work on a day in the project's calendar; Monday to Friday at
    WORK_WEEK_HOURS / 5 without one (or with a 24×7 one, which says nothing of a
    person's day)."""
    default = settings.WORK_WEEK_HOURS / 5
    spec = calendar.spec() if calendar is not None else None
    if spec is None or spec.always_open:
        return lambda day: default if day.weekday() < 5 else 0.0

    def hours(day: date) -> float:
        if day in spec.holidays:
            return 0.0
        total = 0.0
        for start, end in spec.hours.get(day.weekday(), ()):
            end_h = 24.0 if end == time(0) else end.hour + end.minute / 60
            total += max(0.0, end_h - (start.hour + start.minute / 60))
        return total

    return hours


def working_hours(iteration: Iteration) -> float:
    """One person's working hours from start to end (both included)."""
    hours = _day_hours(iteration.project.calendar)
    days = (iteration.end - iteration.start).days + 1
    return sum(hours(iteration.start + timedelta(days=n)) for n in range(days))


@dataclass
class MemberCapacity:
    user: Any
    hours: float  # working hours in the iteration
    share: float  # reserved support share (%)

    @property
    def support_hours(self) -> float:
        return round(self.hours * self.share / 100, 1)

    @property
    def net_hours(self) -> float:
        return round(self.hours - self.support_hours, 1)


@dataclass
class Capacity:
    members: list[MemberCapacity]
    planned_hours: float
    unestimated: int
    warnings: list[str] = field(default_factory=list)

    @property
    def gross_hours(self) -> float:
        return round(sum(m.hours for m in self.members), 1)

    @property
    def support_hours(self) -> float:
        return round(sum(m.support_hours for m in self.members), 1)

    @property
    def net_hours(self) -> float:
        return round(sum(m.net_hours for m in self.members), 1)

    @property
    def load_percent(self) -> int:
        return round(100 * self.planned_hours / self.net_hours) if self.net_hours else 0


def iteration_capacity(iteration: Iteration, items: list[WorkItem] | None = None) -> Capacity:
    """Planned capacity = each member's working hours × (1 − their support share), summed
    over the project team's active members, against the planned estimate (the sum of the
    estimates of its items; for a closed one, its commitment). Three queries (members,
    own shares, team shares) and the calendar's."""
    team = iteration.project.team
    members = list(team.members.filter(is_active=True).order_by("username"))
    shares = support_shares(team, members)
    hours = working_hours(iteration)
    items = list(iteration.items.all()) if items is None else items
    planned = float(sum((i.estimate_hours or Decimal(0) for i in items), Decimal(0)))
    if iteration.status == IS.CLOSED and iteration.committed_hours is not None:
        # its unfinished items have moved on: what it was planned with is the commitment
        planned = float(iteration.committed_hours)
    cap = Capacity(
        [MemberCapacity(u, hours, shares[u.pk]) for u in members],
        planned,
        sum(1 for i in items if i.estimate_hours is None),
    )
    if planned > cap.net_hours:
        cap.warnings.append(
            f"Planned {planned:.1f} h exceeds the team's {cap.net_hours:.1f} h net of the "
            f"3rd-line reservation by {planned - cap.net_hours:.1f} h."
        )
    if cap.unestimated:
        cap.warnings.append(
            f"{cap.unestimated} item{'s' if cap.unestimated != 1 else ''} without an estimate."
        )
    return cap


# --- burndown and velocity ----------------------------------------------------------------
def _hours(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _ref_id(value: Any) -> int | None:
    return value.get("id") if isinstance(value, dict) else None


def _end_of(day: date) -> datetime:
    return datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=timezone.get_current_timezone()
    )


def burndown(iteration: Iteration) -> dict[str, Any]:
    """Remaining estimate per day: at the end of each day (for a closed iteration, at
    the latest when it closed), the estimates of its items that were in it and not yet
    done. Rebuilt by undoing, from today's values backwards, the recorded changes of
    membership (rows on the iteration), state and estimate (rows on the items). Three
    queries whatever the length of the iteration. The ideal line runs from the
    commitment to zero over the working days."""
    today = timezone.localdate()
    now = timezone.now()
    ct_it = ContentType.objects.get_for_model(Iteration)
    ct_item = ContentType.objects.get_for_model(WorkItem)
    rows = list(
        AuditEvent.objects.filter(
            content_type=ct_it,
            object_id=iteration.pk,
            action__in=["item_added", "item_removed", "item_carried_over"],
        ).values_list("created_at", "id", "action", "changes")
    )
    member = set(
        WorkItem.objects.filter(iteration=iteration).values_list("pk", flat=True)
    )  # today's members
    ids = set(member)
    events: list[tuple[datetime, int, str, int, Any]] = []  # (when, id, what, item, value)
    for at, pk, action, changes in rows:
        old, new = (changes or {}).get("item", [None, None])
        item_id = _ref_id(new) or _ref_id(old)
        if item_id is None:
            continue
        ids.add(item_id)
        events.append((at, pk, action, item_id, None))
    state: dict[int, list[Any]] = {
        pk: [status, estimate]
        for pk, status, estimate in WorkItem.objects.filter(pk__in=ids).values_list(
            "pk", "status", "estimate_hours"
        )
    }
    for at, pk, item_id, from_state, to_state, changes in AuditEvent.objects.filter(
        content_type=ct_item, object_id__in=ids
    ).values_list("created_at", "id", "object_id", "from_state", "to_state", "changes"):
        if to_state and from_state:
            events.append((at, pk, "status", item_id, from_state))
        if "estimate_hours" in (changes or {}):
            events.append((at, pk, "estimate", item_id, changes["estimate_hours"][0]))
    events.sort(key=lambda e: (e[0], e[1]), reverse=True)
    for pk in ids:
        state.setdefault(pk, ["open", None])

    def undo(event: tuple[datetime, int, str, int, Any]) -> None:
        _, _, what, item_id, value = event
        if what == "item_added":
            member.discard(item_id)
        elif what in ("item_removed", "item_carried_over"):
            member.add(item_id)
        elif what == "status":
            state[item_id][0] = value
        elif what == "estimate":
            state[item_id][1] = value

    closed_at = iteration.closed_at if iteration.status == IS.CLOSED else None
    # A closed iteration's carry-over happened as it closed: its burndown ends with them.
    pending = []
    for e in events:
        if e[2] == "item_carried_over" or (closed_at is not None and e[0] > closed_at):
            undo(e)
        else:
            pending.append(e)

    def remaining() -> float:
        return float(
            sum(
                (_hours(state[i][1]) for i in member if state[i][0] in OPEN),
                Decimal(0),
            )
        )

    day_hours = _day_hours(iteration.project.calendar)
    n_days = (iteration.end - iteration.start).days + 1
    days = [iteration.start + timedelta(days=n) for n in range(n_days)]
    work = [day_hours(d) > 0 for d in days]
    total_work = sum(work) or 1
    committed = float(
        iteration.committed_hours
        if iteration.committed_hours is not None
        else _planned_hours(iteration)
    )
    last_day = (
        min(today, closed_at.astimezone(timezone.get_current_timezone()).date())
        if (closed_at)
        else today
    )
    values: dict[date, float] = {}
    cursor = 0
    for day in reversed(days):
        if day > last_day:
            continue
        cutoff = min(_end_of(day), closed_at or now)
        while cursor < len(pending) and pending[cursor][0] > cutoff:
            undo(pending[cursor])
            cursor += 1
        values[day] = remaining()
    out = []
    done_work = 0
    for day, is_work in zip(days, work, strict=True):
        done_work += is_work
        out.append(
            {
                "date": day,
                "working_day": is_work,
                "remaining_hours": values.get(day),
                "ideal_hours": round(committed * (1 - done_work / total_work), 1),
            }
        )
    return {"committed_hours": committed, "days": out}


def velocity(project: Project, limit: int = VELOCITY_ITERATIONS) -> list[Iteration]:
    """The last ``limit`` closed iterations, oldest first, with their committed and
    completed estimates (fixed when each started and closed), and how many items each
    holds (``item_count``, as the iteration list gives it)."""
    rows = list(
        Iteration.objects.filter(project=project, status=IS.CLOSED)
        .annotate(item_count=Count("items"))
        .order_by("-end", "-id")[:limit]
    )
    return rows[::-1]


# --- charts (inline SVG, drawn on the server) ---------------------------------------------
CHART_W, CHART_H, PAD = 560, 200, 30


def burndown_chart(data: dict[str, Any]) -> dict[str, Any]:
    """Coordinates for the burndown SVG: the ideal line and the actual remaining."""
    days = data["days"]
    top = max(
        [data["committed_hours"]]
        + [d["remaining_hours"] or 0 for d in days]
        + [d["ideal_hours"] for d in days]
        + [1]
    )
    step = (CHART_W - 2 * PAD) / max(1, len(days) - 1)

    def y(v: float) -> float:
        return round(CHART_H - PAD - (CHART_H - 2 * PAD) * v / top, 1)

    def x(n: int) -> float:
        return round(PAD + n * step, 1)

    ideal = [(x(0), y(data["committed_hours"]))] + [
        (x(n), y(d["ideal_hours"])) for n, d in enumerate(days) if n
    ]
    actual = [
        (x(n), y(d["remaining_hours"]))
        for n, d in enumerate(days)
        if d["remaining_hours"] is not None
    ]
    return {
        "width": CHART_W,
        "height": CHART_H,
        "ideal": " ".join(f"{a},{b}" for a, b in ideal),
        "actual": " ".join(f"{a},{b}" for a, b in actual),
        "dots": actual,
        "top": round(top, 1),
        "top_y": y(top),
        "base_y": y(0),
        "left": PAD,
        "right": CHART_W - PAD,
        "labels": [(x(n), d["date"]) for n, d in enumerate(days) if n in (0, len(days) - 1)],
    }


def velocity_chart(rows: list[Iteration]) -> dict[str, Any]:
    """Bars per closed iteration: committed (light) beside completed."""
    top = max(
        [float(r.committed_hours or 0) for r in rows]
        + [float(r.completed_hours or 0) for r in rows]
        + [1]
    )
    slot = (CHART_W - 2 * PAD) / max(1, len(rows))
    bar = min(28.0, slot / 3)
    usable = CHART_H - 2 * PAD
    bars = []
    for n, r in enumerate(rows):
        x0 = PAD + n * slot + slot / 2 - bar
        c = float(r.committed_hours or 0) / top * usable
        d = float(r.completed_hours or 0) / top * usable
        bars.append(
            {
                "iteration": r,
                "committed": (
                    round(x0, 1),
                    round(CHART_H - PAD - c, 1),
                    round(bar, 1),
                    round(c, 1),
                ),
                "completed": (
                    round(x0 + bar, 1),
                    round(CHART_H - PAD - d, 1),
                    round(bar, 1),
                    round(d, 1),
                ),
                "label_x": round(x0 + bar, 1),
            }
        )
    return {
        "width": CHART_W,
        "height": CHART_H,
        "bars": bars,
        "base_y": CHART_H - PAD,
        "top": top,
        "left": PAD,
        "right": CHART_W - PAD,
    }
