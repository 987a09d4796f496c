"""``/profile/tokens/``: a person's own personal API tokens, listed, created (the secret
shown once, on the page the create redirects to: ``core.once``) and revoked. Calls
``core.tokens``, as the API does."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core import tokens
from core.exceptions import DomainError
from core.models import TokenScope
from core.once import secret_keep, secret_take, see_other
from core.views import render_domain_error

_LIFETIMES = (7, 30, 90, 180, 365)


def _lifetime_choices() -> list[tuple[str, str]]:
    longest = tokens.max_days()
    choices = [(str(d), f"{d} days") for d in _LIFETIMES if not longest or d <= longest]
    if longest and longest not in _LIFETIMES:
        choices.append((str(longest), f"{longest} days"))
    if not longest:
        choices.append(("", "Never"))
    return choices


class TokenForm(forms.Form):
    name = forms.CharField(max_length=tokens.NAME_MAX, help_text="What it is for, e.g. “CI”.")
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)
    expires_in = forms.ChoiceField(label="Expires in", required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["expires_in"].choices = _lifetime_choices()
        self.fields["expires_in"].initial = "90" if "90" in dict(_lifetime_choices()) else ""

    def expires_at(self) -> datetime.datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + datetime.timedelta(days=int(days)) if days else None


@never_cache  # the page may carry a new token's secret: no cache may keep it
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: the list, and the token just created with its secret, this once. POST: create,
    keep the secret for that one GET and redirect to it (303), so a reload creates nothing."""
    status = 200
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                created, secret = tokens.token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_at=form.expires_at(),
                    actor=request.user,
                )
            except DomainError as exc:
                for field, problems in (exc.errors or {None: [exc.message]}).items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
                status = exc.status_code
            else:
                secret_keep(request, "token", {"name": created.name, "secret": secret})
                return see_other("profile_tokens")
        else:
            status = 400
    shown = secret_take(request, "token") if request.method == "GET" else None
    rows = [(t, tokens.token_status(t)) for t in tokens.tokens_of(request.user)]
    context = {
        "form": form,
        "rows": rows,
        "created": shown,
        "secret": shown["secret"] if shown else None,
    }
    return render(request, "core/profile_tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = tokens.token_revoke(token_id=pk, actor=request.user)
    except DomainError as exc:
        return render_domain_error(request, exc)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("profile_tokens")
