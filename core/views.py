"""Pieces every app's pages share."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import DomainError
from core.roles import is_staff_member


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
    if is_staff_member(request.user):
        return redirect("itsm:desk")
    return redirect("itsm:portal")
