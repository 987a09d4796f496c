from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from core.models import Service
from itsm.models import Category, Level

User = get_user_model()


class IncidentForm(forms.Form):
    """Raising an incident from the portal (requester) or the desk (agent, for a caller)."""

    title = forms.CharField(
        max_length=200,
        widget=forms.TextInput(
            attrs={"placeholder": "What is wrong, in a few words", "autofocus": True}
        ),
    )
    service = forms.ModelChoiceField(queryset=Service.objects.filter(is_active=True))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    category = forms.ChoiceField(choices=Category.choices, initial=Category.SOFTWARE)
    impact = forms.ChoiceField(
        choices=Level.choices,
        initial=Level.MEDIUM,
        help_text="How many people or how much of the business is hit",
    )
    urgency = forms.ChoiceField(
        choices=Level.choices,
        initial=Level.MEDIUM,
        help_text="How soon it hurts if it is not fixed",
    )
    requester = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="The caller, when you log it for someone else",
    )
    major_incident = forms.BooleanField(required=False)

    def __init__(self, *args, staff: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["requester"]
            del self.fields["major_incident"]


class IncidentEditForm(forms.Form):
    title = forms.CharField(max_length=200)
    service = forms.ModelChoiceField(queryset=Service.objects.filter(is_active=True))
    category = forms.ChoiceField(choices=Category.choices)
    impact = forms.ChoiceField(choices=Level.choices)
    urgency = forms.ChoiceField(choices=Level.choices)
    major_incident = forms.BooleanField(required=False)
