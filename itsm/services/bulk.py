"""Bulk actions on incidents: assign, transition, link to a problem, add a watcher.

``bulk_job_create`` checks everything that does not depend on the single ticket (the
action, its parameters, that the tickets exist, at most 500 of them) and refuses bad input
with a 400 before anything runs; it stores a ``BulkJob`` and starts it after commit.
``bulk_job_run`` (the Celery task's body) then calls, per ticket, the very service a
single action calls, each in its own transaction with its own audit row; what a service
refuses (permission, state, team membership…) becomes that ticket's result, and the
others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ActionForbidden, DomainError, NotFound, ValidationFailed
from core.ids import parse_id
from core.models import Team
from core.roles import is_administrator, is_staff_member
from core.selectors import team_ref
from core.watchers import watch_add
from itsm import selectors
from itsm.models import (
    BulkAction,
    BulkJob,
    BulkJobResult,
    BulkJobStatus,
    HoldReason,
    Incident,
    ProblemStatus,
    ResolutionCode,
)
from itsm.services.common import choice, require
from itsm.services.incidents import TRANSITION_SERVICES, incident_assign
from itsm.services.problems import problem_link_incidents

logger = logging.getLogger(__name__)
User = get_user_model()

# Up to this many tickets run in the request itself, right after commit: the agent gets
# the summary at once instead of waiting for a worker to pick the job up. Larger jobs
# go to Celery and the page polls their progress.
INLINE_MAX = 20
# The job's progress (done count, heartbeat) is written every this many tickets: one
# small UPDATE per batch instead of one per ticket.
PROGRESS_EVERY = 10
# A running job not heard from for this long was left by a dead worker; a redelivered
# message takes it over (and skips the tickets that have a result).
STALE_AFTER = timedelta(minutes=5)

# Transitions a bulk job may fire (assign is its own action), with the parameters each
# requires and, for choices, the values allowed: the same rules as the single forms.
TRANSITION_PARAMS: dict[str, dict[str, type | None]] = {
    "start": {},
    "hold": {"reason": HoldReason},
    "resume": {},
    "escalate": {"reason": None},
    "resolve": {"resolution_code": ResolutionCode, "resolution_notes": None},
    "reopen": {"reason": None},
    "close": {},
    "cancel": {},
}
# Optional parameters each transition's service takes.
TRANSITION_OPTIONAL = {
    "start": ("comment",),
    "hold": ("comment",),
    "resume": ("comment",),
    "escalate": ("tier",),
    "resolve": ("comment",),
    "reopen": (),
    "close": ("comment",),
    "cancel": ("comment",),
}


# --- who may -------------------------------------------------------------------------------
def can_bulk_act(user: Any) -> bool:
    """Bulk actions are for staff; each ticket is still checked by its own service."""
    return bool(getattr(user, "is_authenticated", False)) and is_staff_member(user)


def can_view_bulk_job(user: Any, job: BulkJob) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and (
        job.created_by_id == user.pk or is_administrator(user)
    )


# --- reads ---------------------------------------------------------------------------------
def bulk_job_get(user: Any, job_id: int | str) -> BulkJob:
    """The job, for its creator or an administrator (404 for anyone else, as for a record
    one may not see)."""
    pk = parse_id(str(job_id))
    job = BulkJob.objects.filter(pk=pk).first() if pk is not None else None
    if job is None or not can_view_bulk_job(user, job):
        raise NotFound(f"No bulk job {job_id}.")
    return job


def bulk_job_refused(job: BulkJob) -> list[BulkJobResult]:
    """The tickets a job's services refused, with why (one query)."""
    return list(job.results.filter(ok=False).order_by("id"))


def bulk_job_succeeded_count(job: BulkJob) -> int:
    return job.results.filter(ok=True).count()


# --- validation ----------------------------------------------------------------------------
def _user_ref(value: Any, field: str) -> AbstractBaseUser:
    """An active user by id or username (400 otherwise)."""
    ref = str(value if value is not None else "").strip().lstrip("@")
    require(ref, field, "Name a person.")
    user = User.objects.filter(username=ref).first()
    if user is None and parse_id(ref) is not None:
        user = User.objects.filter(pk=parse_id(ref)).first()
    if user is None or not user.is_active:
        raise ValidationFailed(f"No active user {ref}.", field=field)
    return user


def _clean_params(actor: AbstractBaseUser, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The action's parameters checked and reduced to ids and plain values (what the job
    stores); 400 naming the field otherwise."""
    if action == BulkAction.ASSIGN:
        team = team_ref(params.get("team"))
        assignee = (
            _user_ref(params["assignee"], "assignee")
            if params.get("assignee") not in (None, "")
            else None
        )
        if team is None and assignee is None:
            raise ValidationFailed("Give a team, an assignee or both.", field="team")
        if (
            team is not None
            and assignee is not None
            and not team.members.filter(pk=assignee.pk).exists()
        ):
            raise ValidationFailed(f"{assignee} is not a member of {team}.", field="assignee")
        return {
            "team": team.pk if team else None,
            "assignee": assignee.pk if assignee else None,
            "comment": str(params.get("comment") or ""),
        }
    if action == BulkAction.TRANSITION:
        name = str(params.get("name") or "")
        if name not in TRANSITION_PARAMS:
            raise ValidationFailed(
                f"'{name}' is not a transition a bulk action can fire; one of: "
                f"{', '.join(TRANSITION_PARAMS)}.",
                field="name",
            )
        cleaned: dict[str, Any] = {"name": name}
        for field, choices in TRANSITION_PARAMS[name].items():
            value = str(params.get(field) or "").strip()
            require(value, field, f"{name.capitalize()} needs {field.replace('_', ' ')}.")
            if choices is not None:
                choice(value, choices, field)
            cleaned[field] = value
        for field in TRANSITION_OPTIONAL[name]:
            if params.get(field) not in (None, ""):
                cleaned[field] = params[field]
        if "tier" in cleaned:
            tier = parse_id(str(cleaned["tier"]))
            if tier not in (2, 3):
                raise ValidationFailed("Escalate to tier 2 or 3.", field="tier")
            cleaned["tier"] = tier
        return cleaned
    if action == BulkAction.LINK_PROBLEM:
        ref = str(params.get("problem") or "").strip()
        require(ref, "problem", "Name the problem (PRB-…).")
        try:
            problem = selectors.problem_get(actor, ref)
        except NotFound as exc:
            raise ValidationFailed(exc.message, field="problem") from exc
        if problem.status in (ProblemStatus.CLOSED, ProblemStatus.CANCELLED):
            raise ValidationFailed(
                f"{problem.key} is {problem.get_status_display().lower()}.", field="problem"
            )
        return {"problem": problem.pk}
    if action == BulkAction.ADD_WATCHER:
        return {"user": _user_ref(params.get("user"), "user").pk}
    raise ValidationFailed(  # pragma: no cover - the caller checked the action
        f"Unknown action {action}.", field="action"
    )


def _incident_ids(actor: AbstractBaseUser, refs: Iterable[Any]) -> list[int]:
    """The chosen incidents' ids, by id or key, in order, once each; 400 naming those that
    do not exist (or the actor may not see) and above ``BulkJob.MAX_TICKETS``."""
    wanted: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for raw in refs:
        ref = str(raw).strip().upper()
        if not ref or ref in seen:
            continue
        seen.add(ref)
        prefix = f"{Incident.KEY_PREFIX}-"
        number = parse_id(ref[len(prefix) :]) if ref.startswith(prefix) else None
        wanted.append((ref, {"number": number} if number else {"pk": parse_id(ref)}))
    if not wanted:
        raise ValidationFailed("Choose at least one incident.", field="incidents")
    if len(wanted) > BulkJob.MAX_TICKETS:
        raise ValidationFailed(
            f"{len(wanted)} incidents chosen; a bulk action takes at most "
            f"{BulkJob.MAX_TICKETS}. Narrow the filter or split the selection.",
            field="incidents",
        )
    numbers = [w["number"] for _, w in wanted if w.get("number")]
    pks = [w["pk"] for _, w in wanted if w.get("pk")]
    rows = selectors.incident_list(actor).filter(Q(number__in=numbers) | Q(pk__in=pks))
    by_number, by_pk = {}, {}
    for pk, number in rows.values_list("pk", "number"):
        by_number[number], by_pk[pk] = pk, pk
    ids, missing = [], []
    for ref, where in wanted:
        found = by_number.get(where["number"]) if "number" in where else by_pk.get(where["pk"])
        if found is None:
            missing.append(ref)
        elif found not in ids:
            ids.append(found)
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ValidationFailed(f"No such incidents: {shown}.", field="incidents")
    return ids


# --- writes --------------------------------------------------------------------------------
def bulk_job_create(
    *,
    actor: AbstractBaseUser,
    action: str,
    incidents: Iterable[Any],
    params: dict[str, Any] | None = None,
) -> BulkJob:
    """Store a bulk action over ``incidents`` (ids or keys) and start it after commit.

    Preconditions: the actor is staff (403); the action is known, its parameters complete
    and valid, every incident exists, and there are 1 to 500 of them (400, nothing is
    stored). Side effects: after commit, a job of up to ``INLINE_MAX`` tickets runs in
    this process; a larger one is queued as the Celery task ``itsm.tasks.bulk_job_run``.
    No audit row for the job itself: each ticket's service writes its own."""
    if not can_bulk_act(actor):
        raise ActionForbidden("Only service desk staff may act on many incidents at once.")
    if action not in BulkAction.values:
        raise ValidationFailed(
            f"Unknown action '{action}'; one of: {', '.join(BulkAction.values)}.",
            field="action",
        )
    if not isinstance(params or {}, dict):
        raise ValidationFailed("Parameters must be an object.", field="params")
    ids = _incident_ids(actor, incidents)
    cleaned = _clean_params(actor, action, dict(params or {}))
    with transaction.atomic():
        job = BulkJob.objects.create(
            created_by=actor, action=action, params=cleaned, incident_ids=ids
        )
        transaction.on_commit(lambda: _start(job.pk, len(ids)))
    return job


def _start(job_id: int, size: int) -> None:
    if size <= INLINE_MAX:
        bulk_job_run(job_id)
        return
    from itsm.tasks import bulk_job_run as task

    try:
        task.delay(job_id)
    except Exception:  # broker down: the job has committed; the sweep starts it later
        logger.warning("bulk job %s: broker unavailable, left for the sweep", job_id, exc_info=True)


def bulk_jobs_resume(*, now: Any = None) -> int:
    """Periodic safety net: queue again the jobs no worker has started for a minute (the
    broker was down, the message was lost) and those a dead worker left running. Each run
    claims its job, so a job queued twice still runs once."""
    from itsm.tasks import bulk_job_run as task

    now = now or timezone.now()
    ids = list(
        BulkJob.objects.filter(
            Q(status=BulkJobStatus.QUEUED, created_at__lt=now - timedelta(minutes=1))
            | Q(status=BulkJobStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
        ).values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        task.delay(pk)
    return len(ids)


def _claim(job_id: int) -> bool:
    """Take the job with a conditional UPDATE: queued, or running but abandoned (its
    heartbeat is stale). Two workers never run it at once; a finished job is left alone."""
    now = timezone.now()
    return bool(
        BulkJob.objects.filter(pk=job_id)
        .filter(
            Q(status=BulkJobStatus.QUEUED)
            | Q(status=BulkJobStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
        )
        .update(status=BulkJobStatus.RUNNING, started_at=now, heartbeat_at=now)
    )


def _progress(job_id: int, done: int) -> None:
    BulkJob.objects.filter(pk=job_id).update(done_count=done, heartbeat_at=timezone.now())


def bulk_job_run(job_id: int) -> BulkJob | None:
    """Run a stored job: claim it (``_claim``; None when another run has it or it is
    finished), then each ticket without a result yet, in the order chosen, through
    ``_apply``. Progress is written every ``PROGRESS_EVERY`` tickets. The job ends
    ``done`` (however many tickets were refused), or ``failed`` when it cannot run at all
    (its creator is no longer staff)."""
    if not _claim(job_id):
        return None
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    actor = job.created_by
    if not (actor.is_active and can_bulk_act(actor)):
        BulkJob.objects.filter(pk=job_id).update(
            status=BulkJobStatus.FAILED,
            error=f"{actor} may no longer act on incidents.",
            finished_at=timezone.now(),
        )
        return BulkJob.objects.get(pk=job_id)
    handled = set(job.results.values_list("incident_id", flat=True))
    done = len(handled)
    keys = dict(Incident.objects.filter(pk__in=job.incident_ids).values_list("pk", "number"))
    try:
        act = _action(job, actor)
    except Exception as exc:  # what it names is gone (a deleted problem or watcher)
        logger.exception("bulk job %s cannot start", job_id)
        BulkJob.objects.filter(pk=job_id).update(
            status=BulkJobStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return BulkJob.objects.get(pk=job_id)
    for pk in job.incident_ids:
        if pk in handled:
            continue
        _apply(job, pk, f"{Incident.KEY_PREFIX}-{keys.get(pk, pk)}", act)
        done += 1
        if done % PROGRESS_EVERY == 0:
            _progress(job_id, done)
    BulkJob.objects.filter(pk=job_id).update(
        status=BulkJobStatus.DONE,
        done_count=done,
        heartbeat_at=timezone.now(),
        finished_at=timezone.now(),
    )
    return BulkJob.objects.get(pk=job_id)


def _apply(job: BulkJob, pk: int, key: str, act: Callable[[Incident], Any]) -> None:
    """One ticket: the service call and its result row in one transaction (the row's
    unique constraint stops a second run applying it again); a refusal rolls the ticket
    back whole and is recorded, with the service's reason, in a transaction of its own."""
    try:
        with transaction.atomic():
            BulkJobResult.objects.create(job=job, incident_id=pk, key=key, ok=True)
            act(Incident.objects.get(pk=pk))
        return
    except IntegrityError:
        return  # another run recorded this ticket first
    except DomainError as exc:
        reason = exc.message
    except Incident.DoesNotExist:
        reason = f"{key} no longer exists."
    except Exception:  # one broken ticket must not stop the other 499
        logger.exception("bulk job %s: %s failed", job.pk, key)
        reason = "Tandem could not do this (the error is logged)."
    BulkJobResult.objects.bulk_create(
        [BulkJobResult(job=job, incident_id=pk, key=key, ok=False, reason=reason)],
        ignore_conflicts=True,
    )


def _action(job: BulkJob, actor: AbstractBaseUser) -> Callable[[Incident], Any]:
    """The single-ticket service call the job's action stands for."""
    p = job.params
    if job.action == BulkAction.ASSIGN:
        team = Team.objects.filter(pk=p["team"]).first() if p.get("team") else None
        assignee = User.objects.filter(pk=p["assignee"]).first() if p.get("assignee") else None
        return lambda inc: incident_assign(
            incident=inc, actor=actor, team=team, assignee=assignee, comment=p.get("comment", "")
        )
    if job.action == BulkAction.TRANSITION:
        service = TRANSITION_SERVICES[p["name"]]
        kwargs = {k: v for k, v in p.items() if k != "name"}
        return lambda inc: service(incident=inc, actor=actor, **kwargs)
    if job.action == BulkAction.LINK_PROBLEM:
        from itsm.models import Problem

        problem = Problem.objects.get(pk=p["problem"])
        return lambda inc: problem_link_incidents(problem=problem, actor=actor, incidents=[inc])
    watcher = User.objects.get(pk=p["user"])
    return lambda inc: watch_add(record=inc, user=watcher, actor=actor)


def bulk_summary(job: BulkJob) -> dict[str, Any]:
    """What the page and the API show of a job: counts and the refusals with reasons."""
    refused = bulk_job_refused(job) if job.is_finished or job.done_count else []
    return {
        "total": job.total,
        "done": job.done_count,
        "refused": refused,
        "succeeded": job.done_count - len(refused) if job.is_finished else None,
    }
