"""Forms of the integrations' pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from core.models import Service
from integrations.services import webhooks as services
from integrations.webhooks import catalogue
from projects.models import Project

PRIORITIES = [(str(p), f"P{p}") for p in range(1, 6)]


class WebhookSubscriptionForm(forms.Form):
    name = forms.CharField(max_length=services.NAME_MAX)
    url = forms.CharField(
        label="Receiver URL", max_length=services.URL_MAX, help_text="http:// or https://"
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in catalogue.EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"), required=False, help_text="Empty: any."
    )
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.order_by("code"), required=False, help_text="Empty: any."
    )
    priorities = forms.MultipleChoiceField(
        choices=PRIORITIES, required=False, widget=forms.CheckboxSelectMultiple
    )
    owner = forms.CharField(
        required=False,
        max_length=150,
        help_text="The username of the person as whom records are sent (empty: you).",
    )
    allow_private = forms.BooleanField(
        required=False,
        label="Allow a receiver on a private network",
        help_text="Only for receivers inside your network (administrators only).",
    )
    max_attempts = forms.IntegerField(
        required=False, min_value=1, max_value=50, help_text="Empty: the server's setting."
    )

    def clean_owner(self) -> Any:
        """A username, not a list of every user (the page's cost must not grow with them)."""
        name = (self.cleaned_data.get("owner") or "").strip()
        if not name:
            return None
        found = get_user_model().objects.filter(username=name, is_active=True).first()
        if found is None:
            raise forms.ValidationError(f"No active user {name}.")
        return found

    def as_input(self, *, editing: bool) -> services.SubscriptionInput:
        d: dict[str, Any] = self.cleaned_data
        return services.SubscriptionInput(
            name=d["name"],
            url=d["url"],
            event_types=list(d["event_types"]),
            services=list(d["services"]),
            projects=list(d["projects"]),
            priorities=[int(p) for p in d["priorities"]],
            owner=d.get("owner"),  # empty: the actor on create, unchanged on edit
            allow_private=bool(d.get("allow_private")),
            max_attempts=d.get("max_attempts"),
        )
