import functools

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from core.roles import is_administrator, is_staff_member, role_names


def navigation(request: HttpRequest) -> dict[str, object]:
    # An error page for a request refused before the authentication middleware ran (a
    # foreign Host header, an unreadable body) has no user: it renders for nobody.
    user = getattr(request, "user", None) or AnonymousUser()

    @functools.cache
    def unread() -> int:
        from core.notifications import unread_count

        return unread_count(user)

    def homes() -> list[object]:
        from core.homes import homes_for

        return list(homes_for(user, per_service=False))

    return {
        "is_staff_member": is_staff_member(user),
        "is_administrator": is_administrator(user),
        "user_roles": sorted(role_names(user)),
        # The bell's count, called by the template: one COUNT, and only on a page that shows
        # the bell (fragments and pages without the top bar never ask).
        "unread_notifications": unread,
        "user_homes": homes,
    }
