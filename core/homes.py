"""Where each role lands: the page of their work, decided once.

``/`` (``core.views.home``) sends a user to the first home in ``HOMES`` they may use; every
home page shows the others they may use (``homes_for``), so each is one click away. The
homes are named by URL only: the dashboards themselves live in the apps whose records they
show (``itsm.homes``, ``projects.homes``), as core imports none of them.

Precedence (a user may hold several roles): the process-manager roles first, in the order
of the service lifecycle, because they are held on purpose by few people who answer for
everyone's tickets; then the tiers (2nd line, developer, service desk), whose queues are
also reachable from the desk. Requesters land on the portal.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from core.roles import (
    PROCESS_ROLES,
    Role,
    User,
    has_role,
    is_administrator,
    is_staff_member,
    service_roles_held,
)


@dataclass(frozen=True)
class Home:
    key: str
    label: str
    url_name: str
    roles: tuple[Role, ...]

    @property
    def url(self) -> str:
        return reverse(self.url_name)


HOMES: tuple[Home, ...] = (
    Home(
        "incidents",
        "Major incidents and breaches",
        "home_incident_manager",
        (Role.INCIDENT_MANAGER,),
    ),
    Home("problems", "Problems", "home_problem_manager", (Role.PROBLEM_MANAGER,)),
    Home("changes", "Changes and CAB", "home_change_manager", (Role.CHANGE_MANAGER,)),
    Home("releases", "Releases by gate", "home_release_manager", (Role.RELEASE_MANAGER,)),
    Home("projects", "My projects", "home_project_manager", (Role.PROJECT_MANAGER,)),
    Home("support", "Team queues and UAT", "home_second_line", (Role.SECOND_LINE,)),
    Home("my-work", "My work", "projects:my_work", (Role.DEVELOPER,)),
    Home("desk", "Service desk", "itsm:desk", (Role.SERVICE_DESK_AGENT, Role.ADMINISTRATOR)),
)
PORTAL = "itsm:portal"


def _holds(user: User, home: Home, per_service: bool) -> bool:
    if has_role(user, *home.roles):
        return True
    process = [r for r in home.roles if r in PROCESS_ROLES]
    # A per-service holder (core.models.ServiceRole) uses the same home.
    return (
        per_service
        and bool(process)
        and any(name in process for name, _ in service_roles_held(user))
    )


def homes_for(user: User, *, per_service: bool = True) -> list[Home]:
    """The homes this user may use, in precedence order: their own; administrators may
    use every one; other staff with no home of their own get the desk. ``per_service``
    False leaves out homes held only for one service (the nav menu, which costs no query
    on every page)."""
    if not user.is_authenticated:
        return []
    own = [h for h in HOMES if _holds(user, h, per_service)]
    if is_administrator(user):
        return own + [h for h in HOMES if h not in own]
    return own or ([HOMES[-1]] if is_staff_member(user) else [])


def home_of(user: User) -> str:
    """The URL name of the page this user lands on: their first home, else the portal."""
    homes = homes_for(user)
    return homes[0].url_name if homes else PORTAL


def may_use(user: User, key: str) -> bool:
    """Whether ``user`` may open the home ``key`` (each dashboard asks this)."""
    return any(h.key == key for h in homes_for(user))
