"""Small staff helpers for writing long text: people to ``@mention`` (the comment box's
autocomplete) and a Markdown preview rendered exactly as the page will show it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import ActionForbidden
from core.markdown import render_rich_text
from core.roles import is_staff_member
from core.views import render_domain_error

SUGGEST_LIMIT = 10


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    if is_staff_member(request.user):
        return None
    return render_domain_error(
        request, ActionForbidden("This is for support and development staff.")
    )


@login_required
@require_GET
def people_suggest(request: HttpRequest) -> HttpResponse:
    """``GET /people/suggest?q=an``: up to 10 active people whose username, first or last
    name starts with ``q`` — ``[{"username": ..., "name": ...}]``, by username."""
    refused = _staff_only(request)
    if refused is not None:
        return refused
    q = request.GET.get("q", "").strip().lstrip("@")[:50]
    users = get_user_model().objects.filter(is_active=True)
    if q:
        users = users.filter(
            Q(username__istartswith=q) | Q(first_name__istartswith=q) | Q(last_name__istartswith=q)
        )
    rows = users.order_by("username").only("username", "first_name", "last_name")[:SUGGEST_LIMIT]
    return JsonResponse(
        [{"username": u.username, "name": u.get_full_name() or u.username} for u in rows],
        safe=False,
    )


@login_required
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """``POST /markdown/preview`` (``body``): the text as pages render it (``|markdown``)."""
    refused = _staff_only(request)
    if refused is not None:
        return refused
    html = render_rich_text(request.POST.get("body", ""))
    return HttpResponse(f'<div class="md">{html}</div>')
