"""A project's components page (``/projects/<code>/components/``): the list, and for its
Project Manager and team lead the forms to add, edit and remove one."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import NotFound
from core.views import posted_id
from itsm.views.problems import ProblemBase as StaffPage
from projects import permissions
from projects.models import Component
from projects.services import structure
from projects.views import _project


def _lead(request: HttpRequest) -> object | None:
    from django.contrib.auth import get_user_model

    pk = posted_id(request, "lead")
    return get_user_model().objects.filter(pk=pk, is_active=True).first() if pk else None


class ComponentListView(StaffPage):
    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        may_manage = permissions.can_manage_components(request.user, project)
        return render(
            request,
            "projects/components.html",
            {
                "project": project,
                "components": Component.objects.filter(project=project)
                .select_related("lead")
                .annotate(item_count=Count("items")),
                "may_manage": may_manage,
                "people": list(structure.assignable_users(project)) if may_manage else [],
            },
        )

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        project = _project(request, code)
        structure.component_create(
            project=project,
            actor=request.user,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            lead=_lead(request),
        )
        return redirect("projects:components", code=project.code)


class ComponentActionView(StaffPage):
    """``edit`` (name, description, lead) or ``delete`` (only when unused: 409)."""

    def post(self, request: HttpRequest, code: str, pk: int, op: str) -> HttpResponse:
        project = _project(request, code)
        component = Component.objects.filter(project=project, pk=pk).first()
        if component is None:
            raise NotFound("No such component.")
        if op == "edit":
            structure.component_update(
                component=component,
                actor=request.user,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                lead=_lead(request),
            )
        elif op == "delete":
            structure.component_delete(component=component, actor=request.user)
        else:
            raise NotFound(f"No action '{op}'.")
        return redirect("projects:components", code=project.code)
