"""Pieces every app's pages share."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from core import service_roles
from core.api.serializers import ServiceRoleInput
from core.exceptions import DomainError, NotFound
from core.homes import home_of, homes_for
from core.ids import parse_id
from core.models import Service, ServiceRole
from core.roles import (
    PROCESS_ROLES,
    can_edit_service_roles,
    can_view_service_roles,
)
from core.visibility import parts_for


class DomainErrorMixin:
    """Turns a domain error raised by a service into a page answer with the right status:
    an HTMX request gets the message in a fragment, a plain one the error page."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except DomainError as exc:
            return render_domain_error(request, exc)


def render_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    if getattr(request, "htmx", False):
        return render(request, "core/_error.html", {"error": exc}, status=exc.status_code)
    return render(request, "core/error.html", {"error": exc}, status=exc.status_code)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the page of its work (``core.homes`` decides)."""
    return redirect(home_of(request.user))


class HomePage(LoginRequiredMixin, DomainErrorMixin, View):
    """A role's home (``core.homes``): open to who may use it, with the strip of the other
    homes they may use. Subclasses name ``home_key`` and build ``home_context``."""

    home_key = ""
    template_name = ""

    def home_context(self, request: HttpRequest) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, request: HttpRequest) -> HttpResponse:
        homes = homes_for(request.user)
        if not any(h.key == self.home_key for h in homes):
            raise NotFound("This home belongs to another role.")
        context = {"homes": homes, "home_key": self.home_key, **self.home_context(request)}
        return render(request, self.template_name, context)


def redirect_next(request: HttpRequest, default: Any) -> HttpResponse:
    """Back to the page the form came from (``next``), when it is a page of this site;
    otherwise to ``default``. A ``next`` pointing elsewhere is ignored (no open redirect)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def return_path(request: HttpRequest, record: Any) -> str:
    """Where a panel's form (comment, watchers, attachments) comes back to: the page shown
    when it was asked for with a GET; otherwise (a refused POST re-rendering the record's
    page under the POST's own URL, which takes no GET) the record's page."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    url = getattr(record, "get_absolute_url", None)
    return str(url()) if callable(url) else request.get_full_path()


def posted_id(request: HttpRequest, name: str) -> int | None:
    """A posted record id, or None when it is missing or not a number (never a 500)."""
    return parse_id(request.POST.get(name, ""))


class ServiceListView(LoginRequiredMixin, View):
    """Services with their support and development teams and their per-service role
    holders (staff)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not can_view_service_roles(request.user):
            raise Http404
        services = Service.objects.select_related("support_team", "development_team")
        services = services.prefetch_related(
            Prefetch("role_holders", queryset=ServiceRole.objects.select_related("user"))
        ).order_by("name")
        return render(request, "core/services.html", {"services": services})


class ServiceDetailView(LoginRequiredMixin, DomainErrorMixin, View):
    """One service: its teams and who holds which process role for it; administrators
    name and remove role holders here (the same service as the API)."""

    def get(self, request: HttpRequest, pk: int, **extra: Any) -> HttpResponse:
        if not can_view_service_roles(request.user):
            raise Http404
        service = get_object_or_404(
            Service.objects.select_related("support_team", "development_team"), pk=pk
        )
        context = {
            "service": service,
            "holders": service_roles.service_roles_of(service),
            "can_edit": can_edit_service_roles(request.user),
            "roles": [(r.value, r.label) for r in PROCESS_ROLES],
            "users": get_user_model().objects.filter(is_active=True).order_by("username"),
            "history": parts_for(request.user, service)
            .history(service)
            .order_by("-created_at")[:20],
            **extra,
        }
        return render(request, "core/service_detail.html", context, status=extra.get("status", 200))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service, pk=pk)
        if request.POST.get("op") == "remove":
            held = service.role_holders.filter(pk=posted_id(request, "holder")).first()
            if held is None:
                raise NotFound("No such role holder on this service.")
            service_roles.service_role_remove(held=held, actor=request.user)
            return redirect("service_detail", pk=service.pk)
        body = ServiceRoleInput(
            data={"user": request.POST.get("user"), "role": request.POST.get("role")}
        )
        if not body.is_valid():
            return self.get(request, pk, errors=body.errors, status=400)
        service_roles.service_role_assign(
            service=service, actor=request.user, **body.validated_data
        )
        return redirect("service_detail", pk=service.pk)
