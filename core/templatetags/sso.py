"""The login page's single sign-on button (issue 14)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def oidc_sign_in() -> dict[str, str] | None:
    """The provider's name and sign-in address when OpenID Connect is configured."""
    if not getattr(settings, "OIDC_ENABLED", False):
        return None
    try:
        url = reverse("oidc_authentication_init")
    except NoReverseMatch:
        return None
    return {"name": settings.OIDC_PROVIDER_NAME, "url": url}
