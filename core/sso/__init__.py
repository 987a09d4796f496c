"""Single sign-on (issue 14): OpenID Connect (``core.sso.oidc``) and LDAP
(``core.sso.ldap``), each on only when its settings are present. Both hand the groups the
identity provider says a person is in to ``roles_sync``, which maps them to Tandem's
roles (``core.roles``) through ``SSO_GROUP_ROLES``.

This module imports neither mozilla-django-oidc nor django-auth-ldap: the default install
signs in with local accounts only and needs neither (python-ldap is a C build)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from core.roles import Role


def parse_group_roles(text: str) -> dict[str, list[str]]:
    """``"idp-admins=Administrator;desk=Service Desk Agent;desk=Requester"`` → a group
    name mapped to the roles it grants (a group may grant several)."""
    mapping: dict[str, list[str]] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        group, sep, role = entry.partition("=")
        if not sep or not group.strip() or not role.strip():
            raise ImproperlyConfigured(
                f"SSO_GROUP_ROLES: '{entry.strip()}' is not 'group=Role name'."
            )
        mapping.setdefault(group.strip(), []).append(role.strip())
    return mapping


def group_roles() -> dict[str, list[str]]:
    return parse_group_roles(getattr(settings, "SSO_GROUP_ROLES", ""))


def _unknown_roles(names: Iterable[str]) -> list[str]:
    known = {r.value for r in Role}
    return sorted({n for n in names if n not in known})


@checks.register(checks.Tags.security)
def check_group_roles(**kwargs: Any) -> list[checks.CheckMessage]:
    """A mapping that names a role Tandem does not have would silently grant nothing."""
    try:
        mapping = group_roles()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="tandem.E141")]
    defaults = list(getattr(settings, "SSO_DEFAULT_ROLES", []))
    unknown = _unknown_roles([r for roles in mapping.values() for r in roles] + defaults)
    if unknown:
        known = ", ".join(r.value for r in Role)
        return [
            checks.Error(
                f"SSO_GROUP_ROLES / SSO_DEFAULT_ROLES name unknown roles: {', '.join(unknown)}.",
                hint=f"Tandem's roles are: {known}.",
                id="tandem.E142",
            )
        ]
    return []


def roles_sync(*, user: Any, groups: Iterable[str], source: str) -> set[str]:
    """Give ``user`` the roles their identity-provider ``groups`` map to, at each sign-in.

    Only the roles the mapping mentions are managed from the directory: one the person's
    groups no longer grant is taken back; roles an administrator gave by hand that no
    group maps to are left alone. A person who ends up with no role at all gets
    ``SSO_DEFAULT_ROLES`` (Requester by default: anyone who can sign in may raise an
    incident). Audit: ``roles_synced`` on the user, actor empty (the directory decided),
    when the roles changed. Returns the user's roles after."""
    # Group names compare without case, as LDAP compares a cn and most providers a name.
    mapping: dict[str, list[str]] = {}
    for group, roles in group_roles().items():
        mapping.setdefault(group.casefold(), []).extend(roles)
    managed = {role for roles in mapping.values() for role in roles}
    wanted = {role for group in groups for role in mapping.get(str(group).casefold(), [])}
    with transaction.atomic():
        before = set(user.groups.values_list("name", flat=True))
        after = (before - managed) | wanted
        if not after:
            after = set(getattr(settings, "SSO_DEFAULT_ROLES", []))
        if after != before:
            for name in after - before:
                user.groups.add(Group.objects.get_or_create(name=name)[0])
            gone = before - after
            if gone:
                user.groups.remove(*Group.objects.filter(name__in=gone))
            if hasattr(user, "_tandem_roles"):
                del user._tandem_roles  # core.roles' per-request cache
            from core.services import audit_record

            audit_record(
                target=user,
                actor=None,
                action="roles_synced",
                changes={"roles": (sorted(before), sorted(after))},
                comment=f"Roles of {user} from their {source} groups.",
            )
    return after


def groups_of(claims: dict[str, Any], claim: str) -> list[str]:
    """The group names in an OpenID Connect claim: a list, or one name as a string."""
    value = claims.get(claim) or []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
