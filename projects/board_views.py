"""The board's pages: the board, a drop of a card on another column, the WIP limits."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.concurrency import page_version_checked, version_of
from core.forms import field_specs, form_data
from itsm.views.problems import ProblemBase as StaffPage
from projects import permissions, selectors, services
from projects.api.serializers import WORK_TRANSITION_INPUTS
from projects.board import (
    BOARD_STATES,
    LANES,
    board,
    board_set_wip_limits,
    move_needs_input,
    transition_for_move,
)
from projects.models import Kind, Release, WorkItem
from projects.permissions import ensure_can_fire_work
from projects.views import _project


class BoardView(StaffPage):
    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        data = board(request.user, project, request.GET, request)
        iterations = list(project.iterations.exclude(status="closed"))
        params = request.GET.copy()
        params.pop("done", None)
        return render(
            request,
            "projects/board.html",
            {
                "project": project,
                **data,
                "active_iteration": next((i for i in iterations if i.status == "active"), None),
                "iterations": iterations,
                "releases": list(
                    Release.objects.filter(project=project).exclude(
                        status__in=["cancelled", "rolled_back", "live"]
                    )
                ),
                "assignees": list(project.team.members.filter(is_active=True).order_by("username")),
                "kinds": Kind.choices,
                "labels": list(project.labels.values_list("name", flat=True)),
                "components": list(project.components.values_list("pk", "name")),
                "lane_choices": [(k, v) for k, v in LANES.items()],
                "params": request.GET,
                "done_query": params.urlencode(),
                "may_set_wip": permissions.can_plan_iterations(request.user, project),
                # the check every move makes first (ensure_can_fire_work)
                "may_move": permissions.can_work_on(request.user, project),
            },
        )


def _move_form(
    request: HttpRequest, item: WorkItem, name: str, to: str, errors: Any = None, status: int = 200
) -> HttpResponse:
    releases = Release.objects.filter(project=item.project).exclude(
        status__in=["cancelled", "rolled_back"]
    )
    fields = field_specs(
        WORK_TRANSITION_INPUTS[name](),
        {
            "target_release": releases,
            "release": releases,
            "duplicate_of": item.project.work_items.filter(kind=item.kind).exclude(pk=item.pk),
        },
        initial=form_data(request.POST) if errors else None,
    )
    label = next(
        (t.custom["label"] for t in item.get_available_status_transitions() if t.name == name),
        name,
    )
    response = render(
        request,
        "projects/_board_move_form.html",
        {
            "item": item,
            "name": name,
            "label": label,
            "to": to,
            "fields": fields,
            "errors": errors or {},
            # the version of the card that was dropped, checked when the dialog is sent
            "record_version": request.POST.get("record_version") or version_of(item),
        },
        status=status,
    )
    response["X-Board-Action"] = "form"
    return response


class BoardMoveView(StaffPage):
    """A card dropped on another column: the transition joining the two states, through
    the same permission check and service as the work item page. A transition that
    needs input answers with its form (the board opens it in a dialog); a refused move
    answers 403/409 with the reason (the board puts the card back)."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        to = request.POST.get("to", "")
        name = transition_for_move(item, to)
        ensure_can_fire_work(request.user, item, name)
        serializer = WORK_TRANSITION_INPUTS[name]
        from_form = request.POST.get("from_form") == "1"
        # a card (or dialog) from before someone else's change is refused (409, saying
        # what changed; the board puts the card back)
        with page_version_checked(request, item):
            if not from_form and move_needs_input(item, name, serializer()):
                return _move_form(request, item, name, to)
            body = serializer(data=form_data(request.POST))
            if not body.is_valid():
                return _move_form(request, item, name, to, body.errors, 400)
            services.WORK_TRANSITION_SERVICES[name](
                item=item, actor=request.user, **body.validated_data
            )
        if from_form:  # the dialog: the board reloads to show the card where it now is
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        fresh = selectors.work_item_get(request.user, item.key)
        response = render(
            request, "projects/_card.html", {"i": fresh, "draggable": True, "board": True}
        )
        response["X-Board-Action"] = "moved"
        return response


class BoardWipView(StaffPage):
    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        board_set_wip_limits(
            project=project,
            actor=request.user,
            limits={s: request.POST.get(f"wip_{s}", "") for s in BOARD_STATES},
        )
        return redirect(project.get_absolute_url())
