"""Iteration pages: a project's iterations (plan one, velocity), an iteration (its board,
capacity net of the 3rd-line share, burndown, start and close), and planning an item
from the backlog. Every write goes through ``projects.iterations``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from core.concurrency import page_version_checked, page_version_fields
from core.exceptions import NotFound, ValidationFailed
from core.params import parse_day
from core.visibility import parts_for
from itsm.views.problems import ProblemBase as StaffPage
from projects import iterations, permissions, selectors
from projects.board import CARD_FIELDS, decorate_cards
from projects.models import IS, Iteration, WorkItemStatus
from projects.views import _project

ITERATION_COLUMNS = ["open", "triaged", "in_progress", "in_review", "fixed", "released", "closed"]


def _date(raw: str, name: str) -> date | None:
    return parse_day(raw, name)


def _iteration_choice(request: HttpRequest, raw: str, name: str) -> Iteration | None:
    """The iteration a form names (empty: none, the backlog); an unknown one is a 400."""
    if not raw:
        return None
    try:
        return iterations.iteration_get(request.user, raw)
    except NotFound:
        raise ValidationFailed("No such iteration.", field=name) from None


def _next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


class IterationListView(StaffPage):
    """``/projects/<code>/iterations/``: active, planned and closed iterations, the form
    to plan a new one, and the velocity of the last closed ones."""

    def _page(self, request: HttpRequest, project: Any, **extra: Any) -> HttpResponse:
        rows = list(
            iterations.iteration_list(request.user)
            .filter(project=project)
            .annotate(item_count=Count("items"))
            .order_by("-start", "-id")
        )
        closed = [r for r in rows if r.status == IS.CLOSED][: iterations.VELOCITY_ITERATIONS][::-1]
        context = {
            "project": project,
            "active": [r for r in rows if r.status == IS.ACTIVE],
            "planned": sorted((r for r in rows if r.status == IS.PLANNED), key=lambda r: r.start),
            "closed": [r for r in rows if r.status == IS.CLOSED],
            "velocity": closed,
            "velocity_chart": iterations.velocity_chart(closed),
            # an archived project takes no new iterations (iteration_create refuses them)
            "may_plan": permissions.takes_new_work(project)
            and permissions.can_plan_iterations(request.user, project),
            "errors": {},
            "form": {},
        }
        context.update(extra)
        return render(request, "projects/iterations.html", context, status=extra.get("status", 200))

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        return self._page(request, _project(request, code))

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        form = {k: request.POST.get(k, "") for k in ("name", "goal", "start", "end")}
        try:
            it = iterations.iteration_create(
                actor=request.user,
                project=project,
                name=form["name"],
                goal=form["goal"],
                start=_date(form["start"], "start"),  # type: ignore[arg-type]
                end=_date(form["end"], "end"),  # type: ignore[arg-type]
            )
        except ValidationFailed as exc:
            return self._page(request, project, errors=exc.errors, form=form, status=400)
        return redirect(it.get_absolute_url())


class IterationDetailView(StaffPage):
    """The iteration: its board, the capacity against the plan, the burndown, its
    actions, and (for planners) the edit form."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        it = iterations.iteration_get(request.user, pk)
        # the board's card fields, and the estimate the capacity sums
        items = list(
            selectors.backlog_order(
                selectors.work_items(request.user)
                .filter(iteration=it)
                .select_related(None)
                .select_related("assignee", "target_release")
                .only(*CARD_FIELDS, "estimate_hours")
            )
        )
        # the project board's cards: labels, open blockers, move URLs (two queries)
        decorate_cards(items)
        labels = dict(WorkItemStatus.choices)
        shown = [s for s in ITERATION_COLUMNS if s != "closed" or any(i.status == s for i in items)]
        columns = [(s, labels[s], [i for i in items if i.status == s]) for s in shown]
        others = [i for i in items if i.status not in ITERATION_COLUMNS]
        data = iterations.burndown(it)
        may_plan = permissions.can_plan_iterations(request.user, it.project)
        planned = (
            list(
                Iteration.objects.filter(project_id=it.project_id, status=IS.PLANNED)
                .exclude(pk=it.pk)
                .order_by("start", "id")
            )
            if it.status == IS.ACTIVE
            else []
        )
        parts = parts_for(request.user, it)
        timeline = parts.timeline(it)
        return render(
            request,
            "projects/iteration.html",
            {
                "project": it.project,
                "iteration": it,
                "columns": columns,
                "others": others,
                "item_count": len(items),
                "releases": sorted(
                    {i.target_release for i in items if i.target_release},
                    key=lambda r: r.version,
                ),
                "capacity": iterations.iteration_capacity(it, items),
                "burndown": data,
                "chart": iterations.burndown_chart(data),
                "actions": iterations.iteration_actions_for(request.user, it),
                # where unfinished items may go when it closes; the first is the default
                "next_planned": planned[0] if planned else None,
                "planned_others": planned,
                "may_edit": may_plan,
                # the check every move makes first (ensure_can_fire_work), as on the board
                "may_move": it.status == IS.ACTIVE
                and permissions.can_work_on(request.user, it.project),
                "timeline": timeline,
                "parts": parts,
                # the version the forms were rendered from, sent back (core.concurrency)
                **page_version_fields(it, timeline),
                "staff": True,
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        it = iterations.iteration_get(request.user, pk)
        fields: dict[str, Any] = {
            k: request.POST[k].strip() for k in ("name", "goal") if k in request.POST
        }
        for k in ("start", "end"):
            if request.POST.get(k):
                fields[k] = _date(request.POST[k], k)
        with page_version_checked(request, it):  # edited meanwhile: 409, what changed
            iterations.iteration_update(iteration=it, actor=request.user, **fields)
        return redirect(it.get_absolute_url())


class IterationActionView(StaffPage):
    """Start or close (with where the unfinished items go)."""

    def post(self, request: HttpRequest, pk: int, op: str) -> HttpResponse:
        it = iterations.iteration_get(request.user, pk)
        comment = request.POST.get("comment", "")
        if op not in ("start", "close"):
            raise NotFound(f"No action '{op}'.")
        # a button rendered before someone else's change is refused (409, what changed)
        with page_version_checked(request, it):
            if op == "start":
                iterations.iteration_start(iteration=it, actor=request.user, comment=comment)
            else:
                raw = request.POST.get("move_to", "")
                move_to = _iteration_choice(request, raw, "move_to")
                iterations.iteration_close(
                    iteration=it, actor=request.user, move_to=move_to, comment=comment
                )
        return redirect(it.get_absolute_url())


class WorkItemPlanView(StaffPage):
    """Plan an item into an iteration (``iteration``: its id) or back to the backlog
    (empty)."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        raw = request.POST.get("iteration", "")
        target = _iteration_choice(request, raw, "iteration")
        with page_version_checked(request, item):  # the backlog row's version: planned meanwhile
            iterations.work_item_plan(item=item, iteration=target, actor=request.user)
        return redirect(_next(request, item.get_absolute_url()))
