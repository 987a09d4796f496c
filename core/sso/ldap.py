"""Sign-in against an LDAP directory (django-auth-ldap), on when LDAP_SERVER_URI is set;
needs the ``ldap`` extra (python-ldap builds against libldap). The directory checks the
password and names the person's groups; ``core.sso.roles_sync`` maps those to roles.

A person is found by username (the directory's ``uid`` by default), created at their first
sign-in with no local password, and their name, e-mail and roles follow the directory at
every sign-in. Two accounts the directory may not open: a local account (one with a
password of its own: a namesake is another person, like OpenID Connect's rule in
``core.sso.oidc``), and one an administrator deactivated in Tandem."""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.db import transaction
from django_auth_ldap.backend import LDAPBackend

from core.sso import roles_sync

log = logging.getLogger(__name__)


class TandemLDAPBackend(LDAPBackend):
    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[Any, bool]:
        """django-auth-ldap's lookup, refusing (before anything of the account is
        overwritten from the directory) a local account and a deactivated one."""
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and user.has_usable_password():
            raise ldap_user.AuthenticationFailed(
                f"{user.username} is a local account, not the directory's"
            )
        if not built and not user.is_active:
            raise ldap_user.AuthenticationFailed(f"{user.username} is deactivated in Tandem")
        return user, built

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        """The directory's check, then the roles of the person's groups, in one
        transaction: the person is created or updated with the roles their groups give,
        or not at all. A directory that fails while naming the groups refuses the
        sign-in (logged) rather than take the person's roles away."""
        try:
            with transaction.atomic():
                user = super().authenticate_ldap_user(ldap_user, password)
                if user is not None:
                    roles_sync(user=user, groups=ldap_user.group_names, source="LDAP")
        except ldap.LDAPError as exc:
            name = getattr(ldap_user, "_username", "?")
            log.warning("LDAP sign-in of %s refused: its groups could not be read: %s", name, exc)
            return None
        return user
