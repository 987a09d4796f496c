"""Pages for who owns projects and releases: create and edit a project, archive and
restore it; create and edit a release; and a work item's development links. Forms are
the API's input serializers rendered with ``core.forms.field_specs``; every write goes
through the same service as the API."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework import serializers

from core.concurrency import StaleVersion, page_version_checked, page_version_fields
from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.forms import field_specs, form_data
from core.visibility import parts_for
from itsm.models import Change
from itsm.models.change import CHANGE_OPEN_STATES
from itsm.views.problems import ProblemBase as StaffPage
from projects import permissions, selectors, services
from projects.api.projects import (
    ProjectCreateSerializer,
    ProjectUpdateSerializer,
    staff_users,
)
from projects.api.serializers import ReleaseCreateSerializer, ReleaseUpdateSerializer
from projects.models import Project, Release
from projects.services.releases import RELEASE_CLOSED_STATES, RELEASE_EDITABLE_WHEN_CLOSED
from projects.views import _project, _release

# An edit form posts every field: one left empty is cleared, not left as it was.
PROJECT_EMPTY = {
    "description": "",
    "services": [],
    "project_manager": None,
    "calendar": None,
    "wip_limits": "",
}
RELEASE_EMPTY = {"name": "", "planned_date": None, "description": "", "change": None, "notes": ""}


def _errors(exc: ValidationFailed) -> dict[str, list[str]]:
    return exc.errors or {"__all__": [exc.message]}


def _render_form(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    serializer: serializers.Serializer,
    *,
    initial: dict[str, Any],
    querysets: dict[str, Any] | None = None,
    only: tuple[str, ...] | None = None,
    errors: Any = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    fields = field_specs(serializer, querysets, initial=initial)
    if only is not None:
        fields = [f for f in fields if f.name in only]
    context = {**context, "fields": fields, "errors": errors or {}, "error": error}
    return render(request, template, context, status=status)


def _project_querysets(project: Project | None = None) -> dict[str, Any]:
    """The form's choices: active development teams and calendars, and the ones the
    project names now when they are retired (core.retire)."""
    from core.models import Team, Tier
    from core.retire import active_or_current
    from sla.models import BusinessCalendar

    return {
        "project_manager": staff_users(),
        "team": active_or_current(
            Team.objects.filter(tier=Tier.DEVELOPMENT), project.team_id if project else None
        ),
        "calendar": active_or_current(
            BusinessCalendar.objects.all(), project.calendar_id if project else None
        ),
    }


def _ensure_manager(request: HttpRequest) -> None:
    if not permissions.can_manage_projects(request.user):
        raise ActionForbidden("Administrators and Project Managers manage projects.")


class ProjectCreateView(StaffPage):
    """``/projects/new/``: administrators and Project Managers create a project."""

    def _form(self, request: HttpRequest, initial: dict[str, Any], **kw: Any) -> HttpResponse:
        return _render_form(
            request,
            "projects/project_form.html",
            {"heading": "New project", "submit": "Create project", "project": None},
            ProjectCreateSerializer(),
            initial=initial,
            querysets=_project_querysets(),
            **kw,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        _ensure_manager(request)
        return self._form(request, {"review_scope": "touched"})

    def post(self, request: HttpRequest) -> HttpResponse:
        _ensure_manager(request)
        data = form_data(request.POST, ProjectCreateSerializer())
        body = ProjectCreateSerializer(data=data)
        if not body.is_valid():
            return self._form(request, data, errors=body.errors, status=400)
        try:
            project = services.project_create(actor=request.user, **body.validated_data)
        except ValidationFailed as exc:
            return self._form(request, data, errors=_errors(exc), error=exc.message, status=400)
        messages.success(request, f"Project {project.code} created.")
        return redirect(project.get_absolute_url())


def _project_initial(project: Project) -> dict[str, Any]:
    return {
        "code": project.code,
        "name": project.name,
        "description": project.description,
        "team": project.team_id,
        "services": [s.pk for s in project.services.all()],
        "project_manager": project.project_manager_id,
        "calendar": project.calendar_id,
        "review_scope": project.review_scope,
        "wip_limits": json.dumps(project.wip_limits) if project.wip_limits else "",
    }


class ProjectSettingsView(StaffPage):
    """``/projects/<code>/settings/``: edit the project, archive or restore it, and read
    its history. Staff read it; administrators and Project Managers change it."""

    def _page(self, request: HttpRequest, project: Project, **kw: Any) -> HttpResponse:
        may = permissions.can_manage_projects(request.user)
        parts = parts_for(request.user, project)
        timeline = parts.timeline(project)
        return _render_form(
            request,
            "projects/project_form.html",
            {
                "heading": f"{project.code} settings",
                "submit": "Save",
                "project": project,
                "may_manage": may,
                "timeline": timeline,
                "parts": parts,
                # the version the forms were rendered from, sent back (core.concurrency)
                **page_version_fields(project, timeline),
            },
            ProjectUpdateSerializer(),
            initial=kw.pop("initial", None) or _project_initial(project),
            querysets=_project_querysets(project),
            **kw,
        )

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        return self._page(request, _project(request, code))

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        _ensure_manager(request)
        data = {**PROJECT_EMPTY, **form_data(request.POST, ProjectUpdateSerializer())}
        body = ProjectUpdateSerializer(data=data)  # the whole form: code, name, team required
        if not body.is_valid():
            return self._page(request, project, initial=data, errors=body.errors, status=400)
        try:
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, project):
                project = services.project_update(
                    project=project, actor=request.user, **body.validated_data
                )
        except StaleVersion as exc:  # the form kept, to send again from the version now
            project = _project(request, code)
            return self._page(request, project, initial=data, error=exc.message, status=409)
        except ValidationFailed as exc:
            return self._page(
                request, project, initial=data, errors=_errors(exc), error=exc.message, status=400
            )
        messages.success(request, f"{project.code} saved.")
        return redirect("projects:project_settings", code=project.code)


class ProjectArchiveView(StaffPage):
    """``POST /projects/<code>/settings/archive/`` and ``.../restore/``."""

    def post(self, request: HttpRequest, code: str, op: str) -> HttpResponse:
        project = _project(request, code)
        reason = request.POST.get("reason", "")
        if op not in ("archive", "restore"):
            raise NotFound(f"No action '{op}'.")
        with page_version_checked(request, project):  # changed meanwhile: 409, what changed
            if op == "archive":
                services.project_archive(project=project, actor=request.user, reason=reason)
            else:
                services.project_restore(project=project, actor=request.user, reason=reason)
        messages.success(request, f"{project.code} {op}d.")
        return redirect("projects:project_settings", code=project.code)


def _open_changes(project: Project, current: Change | None = None) -> list[Change]:
    """The changes that may deploy a release of ``project``: open, on its services."""
    rows = list(
        Change.objects.filter(
            status__in=list(CHANGE_OPEN_STATES), services__in=project.services.all()
        )
        .distinct()
        .order_by("-number")[:200]
    )
    if current is not None and current not in rows:
        rows.insert(0, current)
    return rows


class ReleaseCreateView(StaffPage):
    """``/projects/<code>/releases/new/``: who plans the project's releases."""

    def _form(
        self, request: HttpRequest, project: Project, initial: dict[str, Any], **kw: Any
    ) -> HttpResponse:
        return _render_form(
            request,
            "projects/release_form.html",
            {
                "heading": f"New release of {project}",
                "submit": "Create release",
                "project": project,
            },
            ReleaseCreateSerializer(),
            initial=initial,
            querysets={"change": _open_changes(project)},
            only=("version", "name", "planned_date", "description", "change", "notes"),
            **kw,
        )

    def _ensure(self, request: HttpRequest, project: Project) -> None:
        if not permissions.can_plan_releases(request.user, project):
            raise ActionForbidden(services.releases.RELEASE_PLANNERS)
        services.ensure_project_active(project, "new releases")

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        self._ensure(request, project)
        return self._form(request, project, {})

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        self._ensure(request, project)
        data = form_data(request.POST)
        body = ReleaseCreateSerializer(data={**data, "project": project.code})
        if not body.is_valid():
            return self._form(request, project, data, errors=body.errors, status=400)
        try:
            release = services.release_create(actor=request.user, **body.validated_data)
        except ValidationFailed as exc:
            return self._form(
                request, project, data, errors=_errors(exc), error=exc.message, status=400
            )
        messages.success(request, f"{release} created.")
        return redirect(release.get_absolute_url())


def _release_initial(release: Release) -> dict[str, Any]:
    return {
        "version": release.version,
        "name": release.name,
        "planned_date": release.planned_date.isoformat() if release.planned_date else "",
        "description": release.description,
        "change": release.change_id,
        "notes": release.notes,
    }


class ReleaseEditView(StaffPage):
    """``/releases/<pk>/edit/``: the planning fields; once the release is live, rolled
    back or cancelled, only its description and notes intro."""

    def _form(self, request: HttpRequest, release: Release, **kw: Any) -> HttpResponse:
        closed = release.status in RELEASE_CLOSED_STATES
        return _render_form(
            request,
            "projects/release_form.html",
            {
                "heading": f"Edit {release}",
                "submit": "Save",
                "project": release.project,
                "release": release,
                "closed": closed,
                # the version the form was rendered from, sent back (core.concurrency)
                **page_version_fields(release, parts_for(request.user, release).timeline(release)),
            },
            ReleaseUpdateSerializer(),
            initial=kw.pop("initial", None) or _release_initial(release),
            querysets={"change": _open_changes(release.project, release.change)},
            only=RELEASE_EDITABLE_WHEN_CLOSED if closed else None,
            **kw,
        )

    def _release(self, request: HttpRequest, pk: int) -> Release:
        release = _release(request, pk)
        if not permissions.can_edit_release(request.user, release):
            raise ActionForbidden(services.releases.RELEASE_PLANNERS)
        return release

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._form(request, self._release(request, pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        release = self._release(request, pk)
        posted = form_data(request.POST)
        if release.status in RELEASE_CLOSED_STATES:
            empty = {k: v for k, v in RELEASE_EMPTY.items() if k in RELEASE_EDITABLE_WHEN_CLOSED}
        else:
            empty = RELEASE_EMPTY
        data = {**empty, **posted}
        closed = release.status in RELEASE_CLOSED_STATES
        # the whole form (version required) while open; only the text once closed
        body = ReleaseUpdateSerializer(data=data, partial=closed)
        if not body.is_valid():
            return self._form(request, release, initial=data, errors=body.errors, status=400)
        try:
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, release):
                services.release_update(release=release, actor=request.user, **body.validated_data)
        except StaleVersion as exc:  # the form kept, to send again from the version now
            release = self._release(request, pk)
            return self._form(request, release, initial=data, error=exc.message, status=409)
        except ValidationFailed as exc:
            return self._form(
                request, release, initial=data, errors=_errors(exc), error=exc.message, status=400
            )
        messages.success(request, f"{release} saved.")
        return redirect(release.get_absolute_url())


class WorkItemDevLinkAddView(StaffPage):
    """``POST /work/<ref>/dev-links/``: link a URL to the item (and to the other items
    its title or branch names, which the message lists)."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        result = services.dev_links_from_title(
            item=item,
            actor=request.user,
            url=request.POST.get("url", ""),
            title=request.POST.get("title", ""),
            state=request.POST.get("state", ""),
        )
        notes = []
        others = [link.item.key for link in result.links[1:]]
        if others:
            notes.append(f"also linked to {', '.join(others)}")
        if result.unknown_keys:
            notes.append(f"no work item {', '.join(result.unknown_keys)}")
        if result.refused_keys:
            notes.append(f"not yours to link: {', '.join(result.refused_keys)}")
        text = f"Linked to {item.key}" + (f"; {'; '.join(notes)}." if notes else ".")
        messages.success(request, text)
        return redirect(item.get_absolute_url())


class WorkItemDevLinkRemoveView(StaffPage):
    """``POST /work/<ref>/dev-links/<id>/remove/``."""

    def post(self, request: HttpRequest, ref: str, link_id: int) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        link = item.dev_links.filter(pk=link_id).first()
        if link is None:
            raise NotFound(f"{item.key} has no development link {link_id}.")
        link.item = item
        services.dev_link_remove(link=link, actor=request.user)
        return redirect(item.get_absolute_url())


def dev_links_panel(user: Any, item: Any) -> dict[str, Any]:
    """The work item page's Development panel: its links and whether the form shows."""
    return {
        "dev_links": list(item.dev_links.select_related("added_by")),
        "may_link_code": permissions.can_work_item(user, item),
    }
