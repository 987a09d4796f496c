"""Development pages: projects, the board and the backlog, work items, releases; and the
incident's 'to development' step."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.concurrency import page_version_checked, page_version_fields
from core.exceptions import NotFound, ValidationFailed
from core.export import csv_response, wants_csv
from core.ids import parse_id
from core.views import redirect_next
from core.visibility import parts_for
from itsm import selectors as itsm_selectors
from itsm.views.problems import ProblemBase as StaffPage
from projects import permissions, selectors, services
from projects.exports import WORK_ITEM_COLUMNS
from projects.models import WORK_OPEN_STATES, Release


def _project(request: HttpRequest, code: str) -> Any:
    project = selectors.project_list(request.user).filter(code=code).first()
    if project is None:
        raise NotFound(f"No project {code}.")
    return project


class ProjectListView(StaffPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        archived = request.GET.get("archived", "")
        projects = list(
            selectors.filter_archived(selectors.project_list(request.user), archived or "false")
        )
        for p in projects:  # the same rule the release services check
            p.may_plan_releases = permissions.takes_new_work(p) and permissions.can_plan_releases(
                request.user, p
            )
        return render(
            request,
            "projects/projects.html",
            {
                "projects": projects,
                "show_archived": archived == "true",
                "may_manage_projects": permissions.can_manage_projects(request.user),
                "releases": selectors.release_list(request.user)
                .exclude(status__in=["cancelled"])
                .order_by("planned_date")[:20],
            },
        )


class BacklogView(StaffPage):
    """The project's open items in backlog order, a page at a time (``?page=``)."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        from core.ids import parse_id
        from projects.iterations import open_iterations

        project = _project(request, code)
        if wants_csv(request):  # every open item, in the same order as the pages
            scope = selectors.work_items(request.user).filter(
                project=project, status__in=WORK_OPEN_STATES
            )
            return csv_response(
                selectors.backlog_order(scope), WORK_ITEM_COLUMNS, f"backlog-{project.code}"
            )
        page = parse_id(request.GET.get("page", "")) or 1
        items, more = selectors.backlog_page(request.user, project, page)
        return render(
            request,
            "projects/backlog.html",
            {
                "project": project,
                "items": items,
                "page": page,
                "more": more,
                "iterations": list(open_iterations(project)),
                "may_plan": permissions.can_plan_items(request.user, project),
            },
        )


def _release(request: HttpRequest, pk: int) -> Release:
    release = selectors.release_list(request.user).filter(pk=pk).first()
    if release is None:
        raise NotFound("No such release.")
    return release


class ReleaseDetailView(StaffPage):
    """The release: contents, the go-live gate with each check, and its actions."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        from itsm.permissions import is_change_manager
        from itsm.services.approvals import approvals_of
        from projects.gate import gate_checks, unfinished_items
        from projects.permissions import can_answer_emergency_decision, can_manage_releases
        from projects.suspects import incident_rate, release_suspect_incidents

        release = _release(request, pk)
        checks = gate_checks(release) if release.status in ("testing", "awaiting_go_live") else []
        change = release.change
        open_release = release.status not in ("live", "rolled_back", "cancelled")
        decisions = list(
            release.emergency_decisions.select_related(
                "change", "change_manager", "project_manager", "developer"
            )
        )
        for d in decisions:
            d.answerable = d.status == "proposed" and can_answer_emergency_decision(request.user, d)
        parts = parts_for(request.user, release)
        timeline = parts.timeline(release)
        return render(
            request,
            "projects/release.html",
            {
                "release": release,
                "change": change,
                "cab": list(approvals_of(change)) if change else [],
                "unfinished": list(unfinished_items(release)) if open_release else [],
                "may_move_out": open_release and can_manage_releases(request.user, release.project),
                "may_set_change": open_release
                and can_manage_releases(request.user, release.project),
                "other_releases": Release.objects.filter(project=release.project)
                .select_related("project")  # each option names it (Release.__str__)
                .exclude(pk=release.pk)
                .exclude(status__in=["live", "rolled_back", "cancelled"]),
                "may_go_outside_window": change is not None
                and is_change_manager(request.user, change),
                "window_check": next((c for c in checks if c.name == "window"), None),
                "decisions": decisions,
                "notes": services.release_notes(release),
                "suspects": release_suspect_incidents(release),
                "rate": incident_rate(release),
                "checks": checks,
                "gate_open": bool(checks) and all(c.passed for c in checks),
                "evaluations": release.gate_evaluations.select_related("actor")[:10],
                "timeline": timeline,
                "parts": parts,
                # the version the forms were rendered from, sent back (core.concurrency)
                **page_version_fields(release, timeline),
                "staff": True,
                "actions": permissions.release_actions_for(request.user, release),
                "may_edit": permissions.can_edit_release(request.user, release),
            },
        )


class ReleaseActionView(StaffPage):
    """Sign off UAT, move the release on, take it live through the gate, roll it back."""

    def post(self, request: HttpRequest, pk: int, op: str) -> HttpResponse:
        release = _release(request, pk)
        # a button rendered before someone else's change is refused (409, saying what
        # changed): a go-live or sign-off decided on a page that no longer holds
        with page_version_checked(request, release):
            self._act(request, release, op)
        return redirect(release.get_absolute_url())

    def _act(self, request: HttpRequest, release: Release, op: str) -> None:
        comment = request.POST.get("comment", "")
        if op == "sign-off-uat":
            services.release_sign_off_uat(release=release, actor=request.user, comment=comment)
        elif op == "go-live":
            services.release_go_live(
                release=release,
                actor=request.user,
                comment=comment,
                outside_window_reason=request.POST.get("outside_window_reason", ""),
            )
        elif op == "move-out":
            keys = request.POST.getlist("items")
            to = request.POST.get("to_release") or None
            services.release_move_out_items(
                release=release,
                actor=request.user,
                items=[selectors.work_item_get(request.user, k) for k in keys],
                reason=request.POST.get("reason", ""),
                to_release=_release(request, parse_id(to)) if parse_id(to) else None,
            )
        elif op == "change":
            change = itsm_selectors.change_get(request.user, request.POST.get("change", "").strip())
            services.release_set_change(release=release, actor=request.user, change=change)
        elif op == "roll-back":
            services.release_roll_back(
                release=release, actor=request.user, reason=request.POST.get("reason", "")
            )
        elif op in ("start_development", "start_testing", "ready", "cancel"):
            services.release_transition(
                release=release, actor=request.user, name=op, comment=comment
            )
        else:
            raise NotFound(f"No action '{op}'.")


class ReleaseNotesView(StaffPage):
    """For the service desk: what is coming and what just landed, per service, so a call
    about changed behaviour is answered at once: a feature, or an incident."""

    def get(self, request: HttpRequest) -> HttpResponse:
        from datetime import timedelta

        from django.utils import timezone

        recent = timezone.now() - timedelta(days=30)
        releases = list(
            selectors.releases_with_notes(request.user)
            .exclude(status="live", went_live_at__lt=recent)
            .prefetch_related("project__services")
            .order_by("planned_date")
        )
        notes = selectors.release_notes_for(releases)
        by_service: dict[str, list[Any]] = {}
        for r in releases:
            entry = (r, notes[r.pk])
            for svc in r.project.services.all():
                by_service.setdefault(svc.name, []).append(entry)
        return render(
            request, "projects/release_notes.html", {"by_service": dict(sorted(by_service.items()))}
        )


class IncidentToDevelopmentView(StaffPage):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = itsm_selectors.incident_get(request.user, ref)
        key = request.POST.get("defect", "").strip()
        defect = selectors.work_item_get(request.user, key) if key else None
        services.incident_to_development(
            incident=incident,
            actor=request.user,
            defect=defect,
            reason=request.POST.get("reason", ""),
            severity=request.POST.get("severity") or "major",
        )
        return redirect(incident.get_absolute_url())


def resolve_target(user: Any, key: str) -> Any:
    """An incident, problem or work item by its key (INC-, PRB-, DEF-, ENH-)."""
    key = key.strip().upper()
    if key.startswith("INC-"):
        return itsm_selectors.incident_get(user, key)
    if key.startswith("PRB-"):
        return itsm_selectors.problem_get(user, key)
    if key.startswith(("DEF-", "ENH-")):
        return selectors.work_item_get(user, key)

    raise ValidationFailed(
        "Log time on an incident, a problem or a work item (INC-, PRB-, DEF-, ENH-).",
        field="target",
    )


class TimeLogView(StaffPage):
    def post(self, request: HttpRequest) -> HttpResponse:
        from projects.capacity import time_log

        target = resolve_target(request.user, request.POST.get("target", ""))
        day = request.POST.get("date") or None
        from core.params import parse_day

        on = parse_day(day, "date")
        time_log(
            actor=request.user,
            target=target,
            hours=request.POST.get("hours", ""),
            on=on,
            note=request.POST.get("note", ""),
        )
        return redirect_next(request, target.get_absolute_url())


class CapacityView(StaffPage):
    def get(self, request: HttpRequest, team_id: int) -> HttpResponse:
        from core.models import Team
        from projects.capacity import team_capacity

        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise NotFound("No such team.")
        return render(
            request, "projects/capacity.html", team_capacity(team, request.GET.get("week"))
        )


class EmergencyDecisionView(StaffPage):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        from projects.api.serializers import EmergencyDecisionCreateSerializer

        change = itsm_selectors.change_get(request.user, ref)
        # The API's input rules, so a bad id or number is a 400 here too, never a 500.
        fields = ("release", "project_manager", "developer", "slip_days", "note")
        payload = {f: request.POST[f] for f in fields if request.POST.get(f, "") != ""}
        body = EmergencyDecisionCreateSerializer(data={**payload, "change": change.key})
        if not body.is_valid():
            errors = {f: [str(m) for m in ms] for f, ms in body.errors.items()}
            message = "; ".join(f"{f}: {' '.join(ms)}" for f, ms in errors.items())
            raise ValidationFailed(message, errors=errors)
        body.record(actor=request.user)
        return redirect(change.get_absolute_url())


class EmergencyDecisionAnswerView(StaffPage):
    """The Project Manager named confirms or contests an emergency decision."""

    def post(self, request: HttpRequest, pk: int, op: str) -> HttpResponse:
        decision = selectors.emergency_decisions(request.user).filter(pk=pk).first()
        if decision is None:
            raise NotFound("No such emergency decision.")
        if op == "confirm":
            services.emergency_decision_confirm(
                decision=decision, actor=request.user, comment=request.POST.get("comment", "")
            )
        elif op == "contest":
            services.emergency_decision_contest(
                decision=decision, actor=request.user, reason=request.POST.get("reason", "")
            )
        else:
            raise NotFound(f"No action '{op}'.")
        return redirect_next(request, decision.change.get_absolute_url())
