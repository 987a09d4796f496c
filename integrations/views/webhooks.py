"""The integrations' pages: webhook subscriptions (``/integrations/webhooks/``), for those who
manage them (``integrations.permissions``). Every write calls
``integrations.services.webhooks``, as the API does."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from core.exceptions import ActionForbidden, DomainError
from core.once import secret_keep, secret_take, see_other
from core.views import render_domain_error
from integrations.forms import WebhookSubscriptionForm
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.permissions import can_allow_private_receivers, can_manage_webhooks
from integrations.services import webhooks as services
from integrations.webhooks import catalogue

PAGE = 50


def _guard(request: HttpRequest) -> None:
    if not can_manage_webhooks(request.user):
        raise ActionForbidden("Only administrators manage webhook subscriptions.")


def _page(view: Any) -> Any:
    """Signed in, allowed, and a domain error as its page."""

    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            _guard(request)
            return view(request, *args, **kwargs)  # type: ignore[no-any-return]
        except DomainError as exc:
            return render_domain_error(request, exc)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@_page
def webhook_list(request: HttpRequest) -> HttpResponse:
    subs = WebhookSubscription.objects.select_related("owner").order_by("name", "id")
    return render(request, "integrations/webhooks.html", {"subscriptions": subs})


def _form_context(form: WebhookSubscriptionForm, request: HttpRequest, **extra: Any) -> dict:
    chosen = set(form["event_types"].value() or [])
    groups = [
        (label, [(t, text, t in chosen) for t, text in types])
        for _rt, label, types in catalogue.grouped()
    ]
    return {
        "form": form,
        "groups": groups,
        "may_allow_private": can_allow_private_receivers(request.user),
        **extra,
    }


def _apply_errors(form: WebhookSubscriptionForm, exc: DomainError) -> None:
    for field, problems in (exc.errors or {None: [exc.message]}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _secret_key(sub: WebhookSubscription) -> str:
    return f"webhook-secret:{sub.pk}"


@_page
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookSubscriptionForm(
        request.POST or None, initial={"owner": request.user.get_username()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                sub, secret = services.subscription_create(
                    actor=request.user, data=form.as_input(editing=False)
                )
            except DomainError as exc:
                _apply_errors(form, exc)
                status = exc.status_code
            else:
                # shown once on the detail page the browser is sent to (core.once)
                secret_keep(request, _secret_key(sub), secret)
                return see_other("integrations:webhook_detail", pk=sub.pk)
        else:
            status = 400
    return render(
        request, "integrations/webhook_form.html", _form_context(form, request), status=status
    )


@_page
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sub = services.subscription_get(pk)
    initial = {
        "name": sub.name,
        "url": sub.url,
        "event_types": sub.event_types,
        "services": list(sub.services.all()),
        "projects": list(sub.projects.all()),
        "priorities": [str(p) for p in sub.priorities],
        "owner": sub.owner.get_username(),
        "allow_private": sub.allow_private,
        "max_attempts": sub.max_attempts,
    }
    form = WebhookSubscriptionForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.subscription_update(
                    subscription=sub, actor=request.user, data=form.as_input(editing=True)
                )
            except DomainError as exc:
                _apply_errors(form, exc)
                status = exc.status_code
            else:
                messages.success(request, "Subscription saved.")
                return redirect("integrations:webhook_detail", pk=sub.pk)
        else:
            status = 400
    context = _form_context(form, request, subscription=sub)
    return render(request, "integrations/webhook_form.html", context, status=status)


def _detail(request: HttpRequest, sub: WebhookSubscription, *, secret: str = "") -> HttpResponse:
    deliveries = (
        WebhookDelivery.objects.filter(subscription=sub)
        .select_related("message")
        .prefetch_related(Prefetch("tries", queryset=WebhookAttempt.objects.order_by("id")))
        .order_by("-id")
    )
    # newest first, 50 a page by id (no count of the whole log)
    before = request.GET.get("before", "")
    if before.isdigit():
        deliveries = deliveries.filter(pk__lt=int(before))
    shown = list(deliveries[: PAGE + 1])
    older = shown[PAGE - 1].pk if len(shown) > PAGE else None
    rows = []
    for d in shown[:PAGE]:
        tries = list(d.tries.all())
        rows.append({"d": d, "m": d.message, "tries": tries, "last": tries[-1] if tries else None})
    may = can_manage_webhooks(request.user)
    context = {
        "sub": sub,
        "secret": secret,
        "rows": rows,
        "older": older,
        "any_dead": WebhookDelivery.objects.filter(
            subscription=sub, message__status="failed"
        ).exists(),
        # each button only where its action would be allowed (the services' preconditions)
        "may_manage": may,
        "may_ping": may and sub.is_active,
        "may_redeliver": may and sub.is_active,
    }
    response = render(request, "integrations/webhook_detail.html", context)
    if secret:
        add_never_cache_headers(response)  # no cache, nor the back button, keeps it
    return response


@_page
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The subscription and its delivery log; after a create or a rotation, its new signing
    secret, this once (``core.once``: a reload no longer shows it)."""
    sub = services.subscription_get(pk)
    return _detail(request, sub, secret=secret_take(request, _secret_key(sub)) or "")


@require_POST
@_page
def webhook_ping(request: HttpRequest, pk: int) -> HttpResponse:
    services.webhook_ping(subscription=services.subscription_get(pk), actor=request.user)
    messages.success(request, "Ping queued: its outcome shows below in a moment.")
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
@_page
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    sub, secret = services.subscription_rotate_secret(
        subscription=services.subscription_get(pk), actor=request.user
    )
    secret_keep(request, _secret_key(sub), secret)
    return see_other("integrations:webhook_detail", pk=sub.pk)


@require_POST
@_page
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    services.subscription_enable(subscription=services.subscription_get(pk), actor=request.user)
    messages.success(request, "Subscription enabled.")
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
@_page
def webhook_disable(request: HttpRequest, pk: int) -> HttpResponse:
    services.subscription_disable(
        subscription=services.subscription_get(pk), actor=request.user, reason="Turned off."
    )
    messages.success(request, "Subscription disabled.")
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
@_page
def webhook_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    """One dead delivery (``delivery``) or all of them (``all``)."""
    sub = services.subscription_get(pk)
    ids: list[int] | None = None
    if not request.POST.get("all"):
        raw = request.POST.get("delivery", "")
        if not raw.isdigit():
            from core.exceptions import ValidationFailed

            raise ValidationFailed("Name the delivery to send again.", field="delivery")
        ids = [int(raw)]
    count = services.webhook_redeliver(subscription=sub, actor=request.user, delivery_ids=ids)
    messages.success(request, f"{count} deliver{'y' if count == 1 else 'ies'} queued again.")
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
@_page
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    sub = services.subscription_get(pk)
    services.subscription_delete(subscription=sub, actor=request.user)
    messages.success(request, f"Subscription “{sub.name}” deleted.")
    return redirect("integrations:webhook_list")
