"""Change pages: the list, a new change, the record, the change calendar and the CAB
board."""

from __future__ import annotations

import calendar as pycalendar
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from core.concurrency import StaleVersion, page_version_checked, page_version_fields
from core.exceptions import IllegalTransition, NotFound, ValidationFailed
from core.export import csv_response, wants_csv
from core.extensions import panels_for
from core.forms import field_specs, form_data
from core.models import Service
from core.params import BadMoment, to_day
from core.roles import Role
from core.visibility import parts_for
from itsm import permissions, selectors
from itsm.api.change_serializers import (
    CHANGE_TRANSITION_INPUTS,
    ChangeCreateSerializer,
    RiskAnswersSerializer,
)
from itsm.api.change_views import ChangeFilter
from itsm.exports import CHANGE_COLUMNS
from itsm.models import RISK_QUESTIONS, Approval, Change, ChangeStatus, FreezeWindow
from itsm.permissions import ensure_can_fire_change
from itsm.services import approvals
from itsm.services import changes as services
from itsm.views.problems import ProblemBase, _staff_users

User = get_user_model()


class ChangeListView(ProblemBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        params = request.GET.copy()
        if "status" not in params and params.get("show") != "all":
            params.setlist(
                "status",
                [s.value for s in ChangeStatus if s not in ("closed", "cancelled", "rejected")],
            )
        filterset = ChangeFilter(
            params, queryset=selectors.change_list(request.user), request=request
        )
        if wants_csv(request):
            return csv_response(
                filterset.qs.order_by("-created_at", "-id"), CHANGE_COLUMNS, "changes"
            )
        page = Paginator(filterset.qs.order_by("-created_at", "-id"), 25)
        return render(
            request,
            "itsm/changes.html",
            {
                "page": page.get_page(request.GET.get("page")),
                "filter": filterset,
                "statuses": ChangeStatus.choices,
                "selected": params.getlist("status"),
            },
        )


class ChangeCreateView(ProblemBase):
    def _form(
        self,
        request: HttpRequest,
        initial: dict[str, Any],
        errors: Any = None,
        status: int = 200,
        error: ValidationFailed | None = None,
    ) -> HttpResponse:
        fields = field_specs(ChangeCreateSerializer(), {"implementer": _staff_users()}, initial)
        return render(
            request,
            "itsm/change_form.html",
            {
                "fields": [f for f in fields if f.name != "services"],
                "services": Service.objects.filter(is_active=True),
                "chosen": [int(s) for s in initial.get("services", []) if str(s).isdecimal()],
                "errors": errors or {},
                "error": error,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._form(request, {"type": request.GET.get("type", "normal")})

    def post(self, request: HttpRequest) -> HttpResponse:
        data = form_data(request.POST)
        data["services"] = request.POST.getlist("services")
        body = ChangeCreateSerializer(data=data)
        if not body.is_valid():
            return self._form(request, data, body.errors, 400)
        try:
            change = services.change_create(actor=request.user, **body.validated_data)
        except ValidationFailed as exc:  # what the service checks (a title unless templated)
            return self._form(request, data, exc.errors, 400, error=exc)
        return redirect(change.get_absolute_url())


def _cab_choices(change: Change) -> dict[str, Any]:
    """Who the page offers as CAB members: staff who may approve this change (not its
    requester or implementer), and the staff groups (roles) to approve as a group."""
    return {
        "approvers": _staff_users().exclude(
            pk__in=[pk for pk in (change.requested_by_id, change.implementer_id) if pk]
        ),
        "groups": Group.objects.exclude(name=Role.REQUESTER.value).order_by("name"),
    }


def _detail(request: HttpRequest, change: Change, **extra: Any) -> dict[str, Any]:
    names = selectors.change_transitions_for(request.user, change)
    labels = {t.name: t.custom["label"] for t in change.get_available_status_transitions()}
    transitions = []
    for n in names:
        fields = [
            f
            for f in field_specs(CHANGE_TRANSITION_INPUTS[n](), _cab_choices(change))
            if f.name != "risk_answers"
        ]
        if n == "schedule":
            typed = extra.get("posted", {}) if extra.get("open_form") == n else {}
            for f in fields:
                if f.name in ("planned_start", "planned_end"):
                    value = getattr(change, f.name)
                    f.value = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""
                if typed.get(f.name):  # a refused window comes back as it was typed
                    f.value = typed[f.name]
        transitions.append(
            {
                "name": n,
                "label": labels[n],
                "fields": fields,
                "risk": n == "assess",
                "multi": n == "request_approval",
            }
        )
    timeline = parts_for(request.user, change).timeline(change)
    context = {
        "change": change,
        "transitions": transitions,
        "risk_questions": RISK_QUESTIONS,
        "approvals": approvals.approvals_of(change),
        "conflicts": services.conflicts_of(change),
        "freezes": (
            services.freeze_windows_hit(change, change.planned_start, change.planned_end)
            if change.planned_start and change.planned_end
            else []
        ),
        "caused": change.caused_incidents.all(),
        "panels": panels_for("change_detail", request, change),
        "timeline": timeline,
        "parts": parts_for(request.user, change),
        # the version the forms were rendered from, sent back (core.concurrency)
        **page_version_fields(change, timeline),
        "can_note": permissions.can_work_change(request.user, change),
        "staff": True,
        "errors": {},
        "open_form": "",
    }
    context.update(extra)
    return context


class ChangeDetailView(ProblemBase):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        change = selectors.change_get(request.user, ref)
        return render(request, "itsm/change_detail.html", _detail(request, change))


class ChangeTransitionView(ProblemBase):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        change = selectors.change_get(request.user, ref)
        if name not in CHANGE_TRANSITION_INPUTS:
            raise NotFound(f"No transition '{name}'.")
        data: dict[str, Any] = form_data(request.POST, CHANGE_TRANSITION_INPUTS[name]())
        if name == "assess":
            data["risk_answers"] = {
                k: request.POST.get(f"risk_{k}") == "yes" for k in RiskAnswersSerializer().fields
            }
        try:
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, change):
                ensure_can_fire_change(request.user, change, name)
                body = CHANGE_TRANSITION_INPUTS[name](data=data)
                if not body.is_valid():
                    context = _detail(request, change, errors=body.errors, open_form=name)
                    return render(request, "itsm/change_detail.html", context, status=400)
                services.CHANGE_TRANSITION_SERVICES[name](
                    change=change, actor=request.user, **body.validated_data
                )
        except (ValidationFailed, IllegalTransition, StaleVersion) as exc:
            # e.g. a CAB nobody may approve, a window in a change freeze: the page comes
            # back with the form open, what was typed and the reason, not an error page
            change = selectors.change_get(request.user, ref)  # as it is now
            context = _detail(
                request,
                change,
                errors=exc.errors,
                error=exc,
                open_form=name,
                posted=request.POST.dict(),
            )
            return render(request, "itsm/change_detail.html", context, status=exc.status_code)
        return redirect(change.get_absolute_url())


class ChangeCommentView(ProblemBase):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        change = selectors.change_get(request.user, ref)
        services.change_comment(
            change=change, actor=request.user, body=request.POST.get("body", "")
        )
        return redirect(change.get_absolute_url())


class ChangeCausedView(ProblemBase):
    """Record from an incident's page that this change caused it."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        change = selectors.change_get(request.user, ref)
        [incident] = selectors.incidents_by_keys(request.user, [request.POST.get("incident", "")])
        services.change_link_incident(change=change, actor=request.user, incident=incident)
        return redirect(incident.get_absolute_url())


class ChangeCalendarView(ProblemBase):
    """A month (default) or a week of scheduled changes and freeze windows."""

    def get(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        view = request.GET.get("view", "month")
        try:  # a month or a week around it: kept far from the ends of the calendar
            anchor = to_day(request.GET.get("date") or today)
        except BadMoment:
            anchor = today
        if view == "week":
            first = anchor - timedelta(days=anchor.weekday())
            days = [first + timedelta(days=i) for i in range(7)]
            prev, nxt = first - timedelta(days=7), first + timedelta(days=7)
        else:
            view = "month"
            first = anchor.replace(day=1)
            weeks = pycalendar.Calendar().monthdatescalendar(first.year, first.month)
            days = [d for w in weeks for d in w]
            prev = (first - timedelta(days=1)).replace(day=1)
            nxt = (first + timedelta(days=32)).replace(day=1)
        tz = timezone.get_current_timezone()
        start = datetime.combine(days[0], time(), tzinfo=tz)
        end = datetime.combine(days[-1] + timedelta(days=1), time(), tzinfo=tz)
        changes = list(selectors.changes_in(start, end))
        freezes = list(FreezeWindow.objects.filter(start__lt=end, end__gt=start))
        cells = []
        for d in days:
            d0 = datetime.combine(d, time(), tzinfo=tz)
            d1 = d0 + timedelta(days=1)
            cells.append(
                {
                    "date": d,
                    "in_month": view == "week" or d.month == first.month,
                    "today": d == today,
                    "changes": [c for c in changes if c.planned_start < d1 and c.planned_end > d0],
                    "freezes": [f for f in freezes if f.start < d1 and f.end > d0],
                }
            )
        return render(
            request,
            "itsm/change_calendar.html",
            {
                "cells": cells,
                "view": view,
                "first": first,
                "prev": prev,
                "next": nxt,
                "weeks": [cells[i : i + 7] for i in range(0, len(cells), 7)],
            },
        )


class CabBoardView(ProblemBase):
    """Changes awaiting approval, with what each approver still has to decide."""

    def get(self, request: HttpRequest) -> HttpResponse:
        waiting = list(
            selectors.change_list(request.user)
            .filter(status=ChangeStatus.AWAITING_APPROVAL)
            .order_by("planned_start", "id")
        )
        rows = [{"change": c, "approvals": list(approvals.approvals_of(c))} for c in waiting]
        mine = [a for a in approvals.pending_for(request.user) if isinstance(a.ticket, Change)]
        return render(request, "itsm/cab.html", {"rows": rows, "mine": mine})


__all__ = [
    "Approval",
    "ChangeCalendarView",
    "CabBoardView",
    "ChangeCommentView",
    "ChangeCreateView",
    "ChangeDetailView",
    "ChangeListView",
    "ChangeTransitionView",
    "User",
]
