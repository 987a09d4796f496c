"""Bulk actions on the desk: the action bar over a queue's checked rows, the job it starts
and the progress/summary fragment the page polls. Writes go through
``itsm.services.bulk``, as the API's do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views import View

from core.exceptions import DomainError, ValidationFailed
from core.models import Team
from core.selectors import team_members
from itsm.models import BulkAction, BulkJob, HoldReason, ResolutionCode
from itsm.permissions import user_team_ids
from itsm.services import bulk

TRANSITION_LABELS = {
    "start": "Start work",
    "hold": "Put on hold",
    "resume": "Resume",
    "escalate": "Escalate",
    "resolve": "Resolve",
    "reopen": "Reopen",
    "close": "Close",
    "cancel": "Cancel",
}


def bulk_bar_context(
    user: Any, my_people: Iterable[tuple[int, int, str]] | None = None
) -> dict[str, Any] | None:
    """What the queue's action bar offers, or None when the user may not act in bulk (the
    page then shows no checkboxes). Assign offers every team's queue and the people of
    the user's own teams (``core.selectors.team_people`` of them, read here when the
    caller has not)."""
    if not bulk.can_bulk_act(user):
        return None
    mine = user_team_ids(user)
    teams = list(Team.objects.filter(is_active=True).order_by("tier", "name"))  # core.retire
    # people of my own teams only: the bar never lists another team's people
    people = team_members(mine, my_people)
    return {
        "teams": [(t, people.get(t.pk, []) if t.pk in mine else []) for t in teams],
        "transitions": list(TRANSITION_LABELS.items()),
        "hold_reasons": HoldReason.choices,
        "resolution_codes": ResolutionCode.choices,
        "max": BulkJob.MAX_TICKETS,
    }


def _params(action: str, post: Any) -> dict[str, Any]:
    """The action bar's fields as the service's parameters."""
    if action == BulkAction.ASSIGN:
        team, _, assignee = post.get("assign_to", "").partition(":")
        return {"team": team or None, "assignee": assignee or None}
    if action == BulkAction.TRANSITION:
        name = post.get("transition", "")
        reason = post.get("hold_reason") if name == "hold" else post.get("reason")
        fields = {
            "name": name,
            "reason": reason,
            "resolution_code": post.get("resolution_code"),
            "resolution_notes": post.get("resolution_notes"),
            "comment": post.get("comment"),
        }
        return {k: v for k, v in fields.items() if v}
    if action == BulkAction.LINK_PROBLEM:
        return {"problem": post.get("problem", "")}
    return {"user": post.get("watcher", "")}


class BulkCreateView(LoginRequiredMixin, View):
    """POST from the action bar: start the job and answer with its progress fragment (a
    small job is already done: its summary). A refusal (400/403) answers with the reason
    in the same place, and the selection stays as it was."""

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        try:
            job = bulk.bulk_job_create(
                actor=request.user,
                action=action,
                incidents=_chosen(request),
                params=_params(action, request.POST),
            )
        except DomainError as exc:
            return render(
                request, "itsm/_bulk_progress.html", {"error": exc}, status=exc.status_code
            )
        job.refresh_from_db()
        return _progress(request, job)


def _chosen(request: HttpRequest) -> list[Any]:
    """The rows checked, or (``matching``: the queue's query string, when the agent chose
    "select every incident matching") every incident the desk lists for that query, read
    with the desk's own filter: one more than the limit at most, so that more than the
    limit is refused with the reason rather than cut short."""
    matching = request.POST.get("matching")
    if matching is None:
        return request.POST.getlist("incidents")
    from itsm.views.desk import desk_filter

    _queue, _teams, filterset = desk_filter(request, QueryDict(matching, mutable=True))
    if not filterset.is_valid():
        raise ValidationFailed("The queue's filter is not valid: filter it again.")
    return list(filterset.qs.values_list("pk", flat=True)[: BulkJob.MAX_TICKETS + 1])


class BulkJobView(LoginRequiredMixin, View):
    """The progress fragment the page polls every second until the job is finished."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            job = bulk.bulk_job_get(request.user, pk)
        except DomainError as exc:
            return render(
                request, "itsm/_bulk_progress.html", {"error": exc}, status=exc.status_code
            )
        return _progress(request, job)


def _progress(request: HttpRequest, job: BulkJob) -> HttpResponse:
    return render(
        request, "itsm/_bulk_progress.html", {"job": job, "summary": bulk.bulk_summary(job)}
    )
