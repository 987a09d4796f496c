"""Sign-in against an LDAP directory (django-auth-ldap), on when LDAP_SERVER_URI is set;
needs the ``ldap`` extra (python-ldap builds against libldap). The directory checks the
password and names the person's groups; ``core.sso.roles_sync`` maps those to roles."""

from __future__ import annotations

from typing import Any

from django_auth_ldap.backend import LDAPBackend

from core.sso import roles_sync


class TandemLDAPBackend(LDAPBackend):
    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            roles_sync(user=user, groups=ldap_user.group_names, source="LDAP")
        return user
