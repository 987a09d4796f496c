"""The roles of Tandem, defined once. Each role is a Django group of the same name.

Process roles (Incident, Problem, Change, Release Manager) can also be held for one
service only, through ``core.models.ServiceRole``; the support tiers come from team
membership, not from roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import models


class Role(models.TextChoices):
    REQUESTER = "Requester"
    SERVICE_DESK_AGENT = "Service Desk Agent"
    SECOND_LINE = "2nd Line Support"
    DEVELOPER = "Developer"
    INCIDENT_MANAGER = "Incident Manager"
    PROBLEM_MANAGER = "Problem Manager"
    CHANGE_MANAGER = "Change Manager"
    RELEASE_MANAGER = "Release Manager"
    PROJECT_MANAGER = "Project Manager"
    ADMINISTRATOR = "Administrator"


# Roles that may be held per service as well as globally.
PROCESS_ROLES = (
    Role.INCIDENT_MANAGER,
    Role.PROBLEM_MANAGER,
    Role.CHANGE_MANAGER,
    Role.RELEASE_MANAGER,
)

# Everyone but a plain requester works tickets: they see the desk, not only the portal.
STAFF_ROLES = frozenset(Role) - {Role.REQUESTER}

User = AbstractBaseUser | AnonymousUser


def role_names(user: User) -> frozenset[str]:
    """The user's global roles, cached on the user object for the request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_tandem_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[union-attr]
        user._tandem_roles = cached  # type: ignore[union-attr]
    return cached


def preload_roles(users: Iterable[Any]) -> None:
    """Fill ``role_names``' cache of many users in one query (a list of watchers told of
    one change would otherwise cost a query each)."""
    todo = {u.pk: u for u in users if u is not None and getattr(u, "_tandem_roles", None) is None}
    if not todo:
        return
    from django.contrib.auth import get_user_model

    names: dict[int, set[str]] = {pk: set() for pk in todo}
    through = get_user_model().groups.through
    for user_id, name in through.objects.filter(user_id__in=list(todo)).values_list(
        "user_id", "group__name"
    ):
        names[user_id].add(name)
    for pk, user in todo.items():
        user._tandem_roles = frozenset(names[pk])


def has_role(user: User, *roles: Role) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False) and Role.ADMINISTRATOR in roles:
        return True
    names = role_names(user)
    return any(role.value in names for role in roles)


def is_administrator(user: User) -> bool:
    return bool(getattr(user, "is_superuser", False)) or has_role(user, Role.ADMINISTRATOR)


def is_staff_member(user: User) -> bool:
    """True for anyone who works tickets (every role but Requester)."""
    if is_administrator(user):
        return True
    return any(role.value in role_names(user) for role in STAFF_ROLES)


def holds_process_role(user: User, role: Role, service_ids: Iterable[int | None] = ()) -> bool:
    """Whether the user holds process role ``role`` (Incident, Problem, Change or Release
    Manager) for a record of these services: globally (the group), as an administrator,
    or for one of the services (``core.models.ServiceRole``). Every permission that
    names a process role asks this, so a per-service holder is never forgotten."""
    if not user.is_authenticated:
        return False
    if is_administrator(user) or has_role(user, role):
        return True
    held, name = service_roles_held(user), str(getattr(role, "value", role))
    return any((name, i) in held for i in service_ids if i is not None)


def service_roles_held(user: User) -> frozenset[tuple[str, int]]:
    """The (process role, service id) pairs the user holds per service, read once and
    cached on the user object for the request (like ``role_names``), so checking many
    records of a list costs no query each."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_tandem_service_roles", None)
    if cached is None:
        from core.models import ServiceRole  # core.models imports this module

        cached = frozenset(ServiceRole.objects.filter(user=user).values_list("role", "service_id"))
        user._tandem_service_roles = cached  # type: ignore[union-attr]
    return cached


def forget_service_roles(user: User) -> None:
    """Drop the cached per-service roles (after they changed)."""
    user.__dict__.pop("_tandem_service_roles", None)


def ensure_role_groups() -> None:
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def can_view_service_roles(user: User) -> bool:
    """Who holds which process role for a service is staff's business."""
    from core import matrix  # core.matrix reads this module's roles

    return matrix.allows(user, "service", "see per-service role holders")


def can_edit_service_roles(user: User) -> bool:
    """Administrators name and remove per-service role holders."""
    from core import matrix

    return matrix.allows(user, "service", "name a per-service role holder")
