"""Watcher pages: the Watch / Stop watching / Add watcher buttons of a record's Watchers
panel (``{% watchers_panel %}``), on every record type ``core.watchers`` serves. The API's
actions live on the record viewsets (``core.api.watchers``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from core import attachments, watchers
from core.exceptions import DomainError, ValidationFailed
from core.views import redirect_next, render_domain_error


def _record(request: HttpRequest, label: str, object_id: int) -> Any:
    model = attachments.model_for_label(label)  # the record types watchers serve
    return attachments.attachable_for(model).find(request.user, object_id)


def _person(request: HttpRequest, record: Any, verb: str) -> Any:
    """The user named in the form (``username``), or the one asking when none is. Naming
    someone else is first checked against ``may_manage_watchers`` (403), so a name that
    exists and one that does not get the same answer from whoever may not."""
    name = request.POST.get("username", "").strip().lstrip("@")
    if not name or name.lower() == request.user.get_username().lower():
        return request.user
    watchers.ensure_may_manage_watchers(request.user, record, verb)
    user = get_user_model().objects.filter(username__iexact=name, is_active=True).first()
    if user is None:
        raise ValidationFailed(f"Nobody is called {name}.", field="username")
    return user


@login_required
@require_POST
def watch_add(request: HttpRequest, label: str, object_id: int) -> HttpResponse:
    try:
        record = _record(request, label, object_id)
        user = _person(request, record, watchers.ADD_OTHERS)
        watchers.watch_add(record=record, user=user, actor=request.user)
    except DomainError as exc:
        return render_domain_error(request, exc)
    return redirect_next(request, record.get_absolute_url())


@login_required
@require_POST
def watch_remove(request: HttpRequest, label: str, object_id: int) -> HttpResponse:
    try:
        record = _record(request, label, object_id)
        user = _person(request, record, watchers.REMOVE_OTHERS)
        watchers.watch_remove(record=record, user=user, actor=request.user)
    except DomainError as exc:
        return render_domain_error(request, exc)
    return redirect_next(request, record.get_absolute_url())
