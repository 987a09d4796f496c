"""The notifications page (list, mark read, mark all read) and the e-mail preferences
page; both call ``core.notifications``, as the API does."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core import notifications
from core.exceptions import DomainError
from core.views import redirect_next, render_domain_error

PAGE_SIZE = 30


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    qs = notifications.notifications_for(request.user)
    if request.GET.get("unread"):
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/notifications.html",
        {"page": page, "unread_only": bool(request.GET.get("unread"))},
    )


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read; with ``open`` go on to the record it is about."""
    try:
        found = notifications.notification_mark_read(user=request.user, notification_id=pk)
    except DomainError as exc:
        return render_domain_error(request, exc)
    if request.POST.get("open") and url_has_allowed_host_and_scheme(
        found.url, allowed_hosts={request.get_host()}
    ):
        return redirect(found.url or "notifications")
    return redirect_next(request, "notifications")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications.notification_mark_all_read(user=request.user)
    return redirect_next(request, "notifications")


@login_required
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Which families of news also come by e-mail (the app always shows them)."""
    saved = False
    if request.method == "POST":
        chosen = set(request.POST.getlist("email"))
        on = {value: value in chosen for value, _ in notifications.F.choices}
        notifications.preferences_set(user=request.user, email=on)
        saved = True
    context = {"preferences": notifications.preferences_for(request.user), "saved": saved}
    return render(request, "core/notification_preferences.html", context)


@csrf_exempt  # the signed token is the credential; mail providers POST without a session
@require_http_methods(["GET", "POST"])
def mail_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an e-mail's ``List-Unsubscribe`` header and footer. A GET asks (link
    scanners follow links); a POST — the button, or a mail client's RFC 8058 one-click
    ``List-Unsubscribe=One-Click`` — turns that family's e-mail off, without sign-in."""
    try:
        if request.method == "POST":
            user, family = notifications.preferences_unsubscribe(token=token)
        else:
            user, family = notifications.unsubscribe_preview(token=token)
    except DomainError as exc:
        return render_domain_error(request, exc)
    context = {
        "done": request.method == "POST",
        "family_label": notifications.F(family).label,
        "address": user.email,
    }
    return render(request, "core/mail_unsubscribe.html", context)
