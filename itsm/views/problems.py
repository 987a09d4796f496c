"""Problem pages for the Problem Manager and the teams: queue, candidates, record."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.concurrency import StaleVersion, page_version_checked, page_version_fields
from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.export import csv_response, wants_csv
from core.extensions import panels_for
from core.forms import field_specs, form_data
from core.models import Team
from core.retire import active_or_current
from core.roles import STAFF_ROLES, is_staff_member
from core.views import DomainErrorMixin
from core.visibility import parts_for
from itsm import permissions, selectors
from itsm.api.problem_serializers import (
    PROBLEM_TRANSITION_INPUTS,
    ProblemCreateSerializer,
    ProblemUpdateSerializer,
)
from itsm.api.problem_views import ProblemFilter
from itsm.exports import PROBLEM_COLUMNS
from itsm.models import Problem, ProblemStatus
from itsm.permissions import (
    can_manage_problem,
    ensure_can_fire_problem,
    may_resolve_via_problem,
)
from itsm.recurring import CANDIDATE_LIMIT, MAX_DAYS
from itsm.services import problems as services
from sla.selectors import ticket_clocks

User = get_user_model()


class StaffOnlyMixin:
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_staff_member(request.user):
            raise NotFound("No such page.")  # requesters never learn problems exist
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class ProblemBase(LoginRequiredMixin, DomainErrorMixin, StaffOnlyMixin, View):
    pass


def _staff_users() -> Any:
    return (
        User.objects.filter(is_active=True, groups__name__in=[r.value for r in STAFF_ROLES])
        .distinct()
        .order_by("username")
    )


def _keys(raw: str) -> list[str]:
    return [k for k in raw.replace(",", " ").split() if k]


class ProblemListView(ProblemBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        params = request.GET.copy()
        if "status" not in params and params.get("show") != "all":
            params.setlist("status", ["new", "investigating", "known_error"])
        filterset = ProblemFilter(
            params, queryset=selectors.problem_list(request.user), request=request
        )
        qs = (
            filterset.qs.order_by("-priority", "-created_at", "-id")
            if not params.get("ordering")
            else filterset.qs
        )
        if wants_csv(request):
            return csv_response(qs, PROBLEM_COLUMNS, "problems")
        page = Paginator(qs, 25)
        return render(
            request,
            "itsm/problems.html",
            {
                "page": page.get_page(request.GET.get("page")),
                "filter": filterset,
                "statuses": ProblemStatus.choices,
                "selected": params.getlist("status"),
            },
        )


class ProblemCandidatesView(ProblemBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            days = min(max(int(request.GET.get("days", 30)), 1), MAX_DAYS)
        except ValueError:
            days = 30
        return render(
            request,
            "itsm/problem_candidates.html",
            {
                "groups": selectors.recurring_incidents(days=days),
                "days": days,
                "max_days": MAX_DAYS,
                "limit": CANDIDATE_LIMIT,
            },
        )


class ProblemCreateView(ProblemBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self._form(
            request,
            initial={
                "incidents": request.GET.get("incidents", ""),
                "service": request.GET.get("service", ""),
                "title": request.GET.get("title", "")[:200],
            },
        )

    def _form(
        self, request: HttpRequest, initial: dict[str, Any], errors: Any = None, status: int = 200
    ) -> HttpResponse:
        serializer = ProblemCreateSerializer()
        fields = [
            f
            for f in field_specs(
                serializer,
                # a retired team takes no new problem (core.retire)
                {"assignee": _staff_users(), "team": active_or_current(Team.objects.all())},
                initial,
            )
            if f.name != "incidents"
        ]
        return render(
            request,
            "itsm/problem_form.html",
            {"fields": fields, "errors": errors or {}, "incidents": initial.get("incidents", "")},
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = form_data(request.POST)
        keys = _keys(data.pop("incidents", ""))
        body = ProblemCreateSerializer(data=data)
        if not body.is_valid():
            return self._form(request, {**data, "incidents": " ".join(keys)}, body.errors, 400)
        incidents = selectors.incidents_by_keys(request.user, keys)
        values = {k: v for k, v in body.validated_data.items() if k != "incidents"}
        problem = services.problem_create(actor=request.user, incidents=incidents, **values)
        return redirect(problem.get_absolute_url())


def _detail(request: HttpRequest, problem: Problem, **extra: Any) -> dict[str, Any]:
    user = request.user
    names = selectors.problem_transitions_for(user, problem)
    labels = {t.name: t.custom["label"] for t in problem.get_available_status_transitions()}
    staff = _staff_users()
    manage = can_manage_problem(user, problem)
    incidents = list(selectors.problem_incidents(problem))
    timeline = parts_for(request.user, problem).timeline(problem)
    context = {
        "problem": problem,
        "transitions": [
            {
                "name": n,
                "label": labels[n],
                "fields": field_specs(PROBLEM_TRANSITION_INPUTS[n](), {"assignee": staff}),
            }
            for n in names
        ],
        "manage": manage,
        "edit_fields": field_specs(
            ProblemUpdateSerializer(),
            # active teams, and the one it is with now (core.retire)
            {"assignee": staff, "team": active_or_current(Team.objects.all(), problem.team_id)},
            {f: getattr(problem, f) for f in ProblemUpdateSerializer().fields},
        ),
        "incidents": incidents,
        "open_incidents": [i for i in incidents if i.is_open],
        # What "Resolve the open incidents" would resolve for this user (the same rule).
        "resolvable": [
            i for i in incidents if i.is_open and may_resolve_via_problem(user, problem, i)
        ],
        "timeline": timeline,
        "parts": parts_for(request.user, problem),
        # the version the forms were rendered from, sent back (core.concurrency)
        **page_version_fields(problem, timeline),
        "can_note": permissions.can_work_problem(request.user, problem),
        "clocks": ticket_clocks(problem),
        "panels": panels_for("problem_detail", request, problem),
        "errors": {},
        "open_form": "",
        "staff": True,
    }
    context.update(extra)
    return context


class ProblemDetailView(ProblemBase):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        problem = selectors.problem_get(request.user, ref)
        return render(request, "itsm/problem_detail.html", _detail(request, problem))


class ProblemTransitionView(ProblemBase):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        problem = selectors.problem_get(request.user, ref)
        if name not in PROBLEM_TRANSITION_INPUTS:
            raise NotFound(f"No transition '{name}'.")
        try:
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, problem):
                ensure_can_fire_problem(request.user, problem, name)
                body = PROBLEM_TRANSITION_INPUTS[name](data=form_data(request.POST))
                if not body.is_valid():
                    context = _detail(request, problem, errors=body.errors, open_form=name)
                    return render(request, "itsm/problem_detail.html", context, status=400)
                services.PROBLEM_TRANSITION_SERVICES[name](
                    problem=problem, actor=request.user, **body.validated_data
                )
        except (ValidationFailed, StaleVersion) as exc:  # keep the form open
            problem = selectors.problem_get(request.user, ref)  # as it is now
            context = _detail(request, problem, errors=exc.errors, error=exc, open_form=name)
            return render(request, "itsm/problem_detail.html", context, status=exc.status_code)
        return redirect(problem.get_absolute_url())


class ProblemEditView(ProblemBase):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        problem = selectors.problem_get(request.user, ref)
        data = form_data(request.POST)
        for text in ("description", "root_cause", "workaround", "fix_description"):
            data.setdefault(text, "")  # an emptied text box clears the field
        body = ProblemUpdateSerializer(data=data, partial=True)
        if not body.is_valid():
            context = _detail(request, problem, errors=body.errors, open_form="edit")
            return render(request, "itsm/problem_detail.html", context, status=400)
        try:
            with page_version_checked(request, problem):
                services.problem_update(problem=problem, actor=request.user, **body.validated_data)
        except StaleVersion as exc:
            problem = selectors.problem_get(request.user, ref)  # as it is now
            context = _detail(request, problem, error=exc, open_form="edit")
            return render(request, "itsm/problem_detail.html", context, status=exc.status_code)
        return redirect(problem.get_absolute_url())


class ProblemIncidentsView(ProblemBase):
    """Link, unlink, publish the workaround, resolve the linked incidents together."""

    def post(self, request: HttpRequest, ref: str, op: str) -> HttpResponse:
        problem = selectors.problem_get(request.user, ref)
        if op == "link":
            incidents = selectors.incidents_by_keys(
                request.user, _keys(request.POST.get("incidents", ""))
            )
            services.problem_link_incidents(
                problem=problem, actor=request.user, incidents=incidents
            )
        elif op == "unlink":
            [incident] = selectors.incidents_by_keys(
                request.user, [request.POST.get("incident", "")]
            )
            services.problem_unlink_incident(problem=problem, actor=request.user, incident=incident)
        elif op == "publish":
            # the workaround published is the one the page showed: edited meanwhile, 409
            with page_version_checked(request, problem):
                services.problem_publish_workaround(
                    problem=problem,
                    actor=request.user,
                    workaround=request.POST.get("workaround") or None,
                )
        elif op == "resolve":
            result = services.problem_resolve_incidents(problem=problem, actor=request.user)
            if result.skipped:
                from django.contrib import messages

                messages.warning(
                    request,
                    "Not resolved: "
                    + "; ".join(f"{k} ({why})" for k, why in result.skipped.items()),
                )
        else:
            raise ActionForbidden(f"No such action '{op}'.")
        return redirect(problem.get_absolute_url())


class ProblemCommentView(ProblemBase):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        problem = selectors.problem_get(request.user, ref)
        services.problem_comment(
            problem=problem, actor=request.user, body=request.POST.get("body", "")
        )
        return redirect(problem.get_absolute_url())
