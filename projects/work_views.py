"""The work item page and its actions: create, edit (the API's input serializer and
service), transitions, links to incidents/changes and to other work items, sub-tasks, and
the activity tabs (all / comments / history)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.concurrency import StaleVersion, page_version_checked, page_version_fields
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.extensions import panels_for
from core.forms import FieldSpec, field_specs, form_data
from core.ids import parse_id
from core.views import redirect_next
from core.visibility import parts_for
from itsm import selectors as itsm_selectors
from itsm.views.problems import ProblemBase as StaffPage
from projects import bridge, permissions, selectors, services
from projects.api.serializers import (
    WORK_TRANSITION_INPUTS,
    WorkItemCreateSerializer,
    WorkItemPatchSerializer,
)
from projects.models import Component, Label, Release, WorkItem, WorkItemLink, term
from projects.permissions import ensure_can_fire_work
from projects.services import structure as structure_services
from projects.structure import Structure, item_structure
from sla.selectors import ticket_clocks

TABS = ("all", "comments", "history")


def _open_releases(releases: Any) -> Any:
    """Releases an item may still target (the edit form and transitions offer the same).
    Each option names its project (``Release.__str__``): joined, not one query a release."""
    return releases.exclude(status__in=["cancelled", "rolled_back"]).select_related("project")


def _create_choices(request: HttpRequest, code: str) -> dict[str, Any]:
    """The create form's assignees and releases: what ``work_item_create`` accepts for the
    project named (the board's "New work item" names it), else for any project the form
    offers (the service refuses another project's release or someone outside its team)."""
    projects = selectors.active_projects(request.user)
    chosen = projects.filter(code=code).first() if code else None
    if chosen is not None:
        return {
            "assignee": structure_services.assignable_users(chosen),
            "target_release": _open_releases(Release.objects.filter(project=chosen)),
        }
    users = (
        get_user_model()
        .objects.filter(
            Q(tandem_teams__in=projects.values("team"))
            | Q(pk__in=projects.values("project_manager")),
            is_active=True,
        )
        .distinct()
        .order_by("username")
    )
    releases = Release.objects.filter(project__in=projects).select_related("project")
    return {"assignee": users, "target_release": _open_releases(releases).order_by("project__code")}


class WorkItemCreateView(StaffPage):
    def _form(
        self,
        request: HttpRequest,
        initial: dict[str, Any],
        errors: Any = None,
        status: int = 200,
        error: str = "",
    ) -> HttpResponse:
        choices = _create_choices(request, str(initial.get("project") or ""))
        fields = [
            f
            for f in field_specs(WorkItemCreateSerializer(), choices, initial=initial)
            if f.name not in ("labels", "components", "parent")  # set on the item's page
        ]
        for f in fields:  # a slug field: offer the projects by code
            if f.name == "project":
                f.kind, f.choices = (
                    "select",
                    [(p.code, p.name) for p in selectors.active_projects(request.user)],
                )
        return render(
            request,
            "projects/work_form.html",
            {
                "fields": fields,
                "errors": errors or {},
                "error": error,
                "kind": initial.get("kind", "defect"),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._form(
            request,
            {"project": request.GET.get("project", ""), "kind": request.GET.get("kind", "defect")},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = form_data(request.POST)
        kind = data.pop("kind", "defect")
        body = WorkItemCreateSerializer(data=data)
        if not body.is_valid():
            return self._form(request, {**data, "kind": kind}, body.errors, 400)
        try:
            item = services.work_item_create(actor=request.user, kind=kind, **body.validated_data)
        except ValidationFailed as exc:  # the form keeps what was typed, with the reason
            shown = "" if exc.errors else exc.message  # a field's error shows under it
            return self._form(request, {**data, "kind": kind}, exc.errors, 400, error=shown)
        return redirect(item.get_absolute_url())


# --- the edit form ------------------------------------------------------------------------


def _label_names(raw: str) -> list[str]:
    """The labels field of the page: names separated by commas (or new lines)."""
    return [n.strip() for n in re.split(r"[,\n]", raw) if n.strip()]


def current_values(item: WorkItem, struct: Structure) -> dict[str, Any]:
    """The edit form's fields as the item has them now."""
    return {
        "title": item.title,
        "description": item.description,
        "priority": item.priority,
        "severity": item.severity,
        "assignee": item.assignee_id,
        "estimate_hours": item.estimate_hours,
        "target_release": item.target_release_id,
        "iteration": item.iteration_id,
        "labels": ", ".join(struct.labels),
        "components": list(struct.components),
        "parent": struct.ancestors[-1].key if struct.ancestors else "",
    }


def edit_fields(item: WorkItem, initial: dict[str, Any]) -> list[FieldSpec]:
    """The edit form: the API's PATCH serializer, its choices narrowed to what the service
    accepts for this item (its project's team, releases, open iterations, components)."""
    from projects.iterations import open_iterations

    project = item.project
    releases = _open_releases(Release.objects.filter(project=project))
    specs = field_specs(
        WorkItemPatchSerializer(),
        {
            "assignee": structure_services.assignable_users(project),
            "target_release": releases,
            "iteration": open_iterations(project),
        },
        initial,
    )
    for spec in specs:
        if spec.name == "components":
            spec.kind = "multiselect"
            spec.choices = [(c.name, c.name) for c in Component.objects.filter(project=project)]
            spec.value = [str(v) for v in initial.get("components") or []]
        elif spec.name == "labels":
            spec.help_text = "Separated by commas; new ones are created (lowercase, no spaces)."
        elif spec.name == "parent":
            spec.help_text = "The epic or story it belongs to, by key (same project)."
    return specs


def edit_changes(item: WorkItem, struct: Structure, post: Any) -> tuple[dict[str, Any], Any]:
    """The posted form as the PATCH body, validated by the API's serializer: only the fields
    that differ from the item (so an untouched iteration does not ask for planning
    rights). Returns (changes, serializer errors or None)."""
    serializer = WorkItemPatchSerializer()
    data: dict[str, Any] = {}
    for name, f in serializer.fields.items():
        if name == "labels":
            data[name] = _label_names(post.get("labels", ""))
        elif name == "components":
            data[name] = [v for v in post.getlist("components") if v]
        elif name in post:
            raw = post.get(name, "")
            if raw != "":
                data[name] = raw
            elif f.allow_null:
                data[name] = None
            elif getattr(f, "allow_blank", False) or name == "title":
                data[name] = raw  # a blank title is refused by the serializer, with its words
    body = WorkItemPatchSerializer(data=data, partial=True)
    if not body.is_valid():
        return {}, body.errors
    now = current_values(item, struct)
    changes: dict[str, Any] = {}
    for name, value in body.validated_data.items():
        old = now[name]
        if name == "labels":
            try:
                new_names = sorted({structure_services.label_normalise(n) for n in value})
            except ValidationFailed as exc:
                return {}, exc.errors
            if new_names != sorted(struct.labels):
                changes[name] = value
        elif name == "components":
            if sorted(value) != sorted(struct.components):
                changes[name] = value
        elif name == "parent":
            if (value.key if value else "") != old:
                changes[name] = value
        elif isinstance(value, Decimal) or isinstance(old, Decimal):
            if value != old:
                changes[name] = value
        elif getattr(value, "pk", value) != old:
            changes[name] = value
    return changes, None


# --- the page ------------------------------------------------------------------------------


def _tab_entries(timeline: list[Any], tab: str) -> list[Any]:
    if tab == "comments":
        return [e for e in timeline if e.kind == "comment"]
    if tab == "history":
        return [e for e in timeline if e.kind == "audit"]
    return timeline


def _detail(request: HttpRequest, item: Any, **extra: Any) -> dict[str, Any]:
    labels = {t.name: t.custom["label"] for t in item.get_available_status_transitions()}
    releases = _open_releases(Release.objects.filter(project=item.project))
    transitions = [
        {
            "name": n,
            "label": labels[n],
            "fields": field_specs(
                WORK_TRANSITION_INPUTS[n](),
                # the original of a duplicate is asked by key (WorkItemRefField), not
                # chosen among every item of the project
                {"target_release": releases, "release": releases},
            ),
        }
        for n in selectors.work_transitions_for(request.user, item)
    ]
    incidents = [
        (i, ticket_clocks(i))
        for i in item.incidents.select_related("requester", "team").prefetch_related(
            "sla_clocks__policy__calendar__periods", "sla_clocks__policy__calendar__holidays"
        )
    ]
    struct = extra.pop("struct", None) or item_structure(item)
    may_edit = permissions.can_edit_work_item(request.user, item)
    may_link = permissions.can_work_item(request.user, item)
    tab = request.GET.get("tab", "all")
    tab = tab if tab in TABS else "all"
    parts = parts_for(request.user, item)
    timeline = parts.timeline(item)
    context = {
        "item": item,
        "transitions": transitions,
        "incidents": incidents,
        "changes": item.changes.all(),
        "timeline": _tab_entries(timeline, tab),
        # the version the forms were rendered from, sent back (core.concurrency)
        **page_version_fields(item, timeline),
        "tab": tab,
        "tabs": [(t, t.capitalize()) for t in TABS],
        "parts": parts,
        "staff": True,
        "errors": {},
        "open_form": "",
        "support_word": term(item.kind, "support"),
        # the same panel as the incident and problem pages: it asks who may log time here
        "time_panel": bridge.time_panel(request, item),
        "struct": struct,
        "may_edit": may_edit,
        "may_link": may_link,
        # a sub-task is a new item under this one: who may edit this one adds it
        # permissions.can_add_child, its can_edit_work_item already asked (may_edit)
        "may_add_child": may_edit
        and permissions.takes_new_work(item.project)
        and len(struct.ancestors) + 1 < WorkItem.MAX_DEPTH,
        "link_kinds": structure_services.LINK_CHOICES,
        "edit_errors": {},
        "open_edit": False,
        # blocks higher apps add to the page (integrations: the tracker's remote issue)
        "panels": panels_for("work_item_detail", request, item),
    }
    posted = extra.pop("edit_initial", None)  # a refused form shows what was posted
    if may_edit:
        context["edit_fields"] = edit_fields(
            item, posted if posted is not None else current_values(item, struct)
        )
        context["known_labels"] = list(
            Label.objects.filter(project=item.project).values_list("name", flat=True)[:500]
        )
    context.update(extra)
    return context


class WorkItemDetailView(StaffPage):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        return render(request, "projects/work_detail.html", _detail(request, item))


class WorkItemEditView(StaffPage):
    """The Edit form of the page: the API's PATCH (serializer, ``work_item_edit``). A
    refused edit keeps the form, with the message, at the status the API would answer."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        from projects.iterations import work_item_edit

        item = selectors.work_item_get(request.user, ref)
        struct = item_structure(item)
        changes, errors = edit_changes(item, struct, request.POST)
        exc: DomainError | None = None
        if errors is None and changes:
            try:
                # a form rendered before someone else's change is refused, saying what
                with page_version_checked(request, item):
                    work_item_edit(item=item, actor=request.user, **changes)
            except DomainError as refused:
                exc = refused
                if isinstance(refused, StaleVersion):  # the page as it is now, form kept
                    item = selectors.work_item_get(request.user, ref)
                    struct = item_structure(item)
        if errors is None and exc is None:
            return redirect(item.get_absolute_url())
        posted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        posted["components"] = request.POST.getlist("components")
        return render(
            request,
            "projects/work_detail.html",
            _detail(
                request,
                item,
                struct=struct,
                edit_initial=posted,
                edit_errors=errors or (exc.errors if exc else {}),
                edit_error=exc,
                open_edit=True,
                # without the form (not theirs to edit), the refusal shows at the top
                error=exc
                if exc and not permissions.can_edit_work_item(request.user, item)
                else None,
            ),
            status=exc.status_code if exc else 400,
        )


class WorkItemTransitionView(StaffPage):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        if name not in WORK_TRANSITION_INPUTS:
            raise NotFound(f"No transition '{name}'.")
        try:
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, item):
                ensure_can_fire_work(request.user, item, name)
                body = WORK_TRANSITION_INPUTS[name](data=form_data(request.POST))
                if not body.is_valid():
                    return render(
                        request,
                        "projects/work_detail.html",
                        _detail(request, item, errors=body.errors, open_form=name),
                        status=400,
                    )
                services.WORK_TRANSITION_SERVICES[name](
                    item=item, actor=request.user, **body.validated_data
                )
        except (ValidationFailed, StaleVersion) as exc:  # e.g. "fixed" with no release named
            item = selectors.work_item_get(request.user, ref)  # as it is now
            return render(
                request,
                "projects/work_detail.html",
                _detail(request, item, errors=exc.errors, error=exc, open_form=name),
                status=exc.status_code,
            )
        return redirect(item.get_absolute_url())


class WorkItemLinkView(StaffPage):
    """Link an incident, a problem or a change (the bridge to support)."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        key = request.POST.get("key", "").strip()
        if key.upper().startswith("PRB-"):
            problem = itsm_selectors.problem_get(request.user, key)
            services.defect_link_problem(item=item, actor=request.user, problem=problem)
            return redirect_next(request, item.get_absolute_url())
        if key.upper().startswith("CHG-"):
            change = itsm_selectors.change_get(request.user, key)
            services.enhancement_link_change(item=item, actor=request.user, change=change)
        else:
            [incident] = itsm_selectors.incidents_by_keys(request.user, [key])
            services.defect_link_incident(item=item, actor=request.user, incident=incident)
        return redirect(item.get_absolute_url())


def _other_item(request: HttpRequest, key: str) -> WorkItem:
    key = key.strip().upper()
    if not re.fullmatch(r"(DEF|ENH)-\d+", key):
        raise ValidationFailed(
            f"'{key or '(empty)'}' is not a work item key: DEF-… or ENH-….", field="target"
        )
    try:
        return selectors.work_item_get(request.user, key)
    except NotFound:
        raise ValidationFailed(f"There is no work item {key}.", field="target") from None


class WorkItemItemLinkView(StaffPage):
    """Links to other work items: ``add`` (kind as read on this page, the other's key) and
    ``remove`` (a link id). "is blocked by X" is stored as "X blocks this"."""

    def post(self, request: HttpRequest, ref: str, op: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        if op == "add":
            other = _other_item(request, request.POST.get("target", ""))
            structure_services.work_item_link_add(
                item=item, other=other, kind=request.POST.get("kind", ""), actor=request.user
            )
        elif op == "remove":
            pk = parse_id(request.POST.get("link", ""))
            link = WorkItemLink.objects.filter(pk=pk).first() if pk else None
            if link is None or item.pk not in (link.source_id, link.target_id):
                raise NotFound(f"{item.key} has no such link.")
            structure_services.work_item_link_remove(link=link, actor=request.user)
        else:
            raise NotFound(f"No action '{op}'.")
        return redirect(item.get_absolute_url())


class WorkItemSubtaskView(StaffPage):
    """ "Add sub-task": a new item of the same kind and project under this one, through the
    same create service (and serializer) as any new item."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        item = selectors.work_item_get(request.user, ref)
        body = WorkItemCreateSerializer(
            data={
                **form_data(request.POST),
                "project": item.project.code,
                "parent": item.key,
            }
        )
        if not body.is_valid():
            message = "; ".join(f"{f}: {' '.join(map(str, m))}" for f, m in body.errors.items())
            raise ValidationFailed(message, errors=body.errors)
        child = services.work_item_create(actor=request.user, kind=item.kind, **body.validated_data)
        return redirect(child.get_absolute_url())
