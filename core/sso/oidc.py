"""Sign-in with OpenID Connect (mozilla-django-oidc), on when OIDC_RP_CLIENT_ID is set.

A person is found by the e-mail address the provider vouches for (mozilla-django-oidc's
rule), created at their first sign-in otherwise, and their roles follow their groups
(``core.sso.roles_sync``) at every sign-in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from core.sso import groups_of, roles_sync


class TandemOIDCBackend(OIDCAuthenticationBackend):
    def _roles(self, user: Any, claims: dict[str, Any]) -> None:
        groups = groups_of(claims, getattr(settings, "OIDC_GROUPS_CLAIM", "groups"))
        roles_sync(user=user, groups=groups, source=settings.OIDC_PROVIDER_NAME)

    def _username(self, claims: dict[str, Any]) -> str:
        """The provider's preferred_username (else the address's local part), made unique:
        a local account's name is never taken over by a namesake from the provider."""
        base = claims.get("preferred_username") or claims.get("email", "").split("@")[0]
        max_length = self.UserModel._meta.get_field("username").max_length
        base = (str(base) or "user")[:max_length]
        username, n = base, 1
        while self.UserModel.objects.filter(username__iexact=username).exists():
            n += 1
            username = f"{base[: max_length - len(str(n)) - 1]}-{n}"
        return username

    def create_user(self, claims: dict[str, Any]) -> Any:
        with transaction.atomic():
            user = self.UserModel(
                username=self._username(claims),
                email=claims.get("email", ""),
                first_name=str(claims.get("given_name", ""))[:150],
                last_name=str(claims.get("family_name", ""))[:150],
            )
            user.set_unusable_password()  # signs in through the provider only
            user.save()
            self._roles(user, claims)
        return user

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        with transaction.atomic():
            fields = {
                "first_name": str(claims.get("given_name", user.first_name))[:150],
                "last_name": str(claims.get("family_name", user.last_name))[:150],
            }
            changed = [k for k, v in fields.items() if getattr(user, k) != v]
            for name in changed:
                setattr(user, name, fields[name])
            if changed:
                user.save(update_fields=changed)
            self._roles(user, claims)
        return user
