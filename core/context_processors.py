from django.http import HttpRequest

from core.roles import is_administrator, is_staff_member, role_names


def navigation(request: HttpRequest) -> dict[str, object]:
    user = request.user
    return {
        "is_staff_member": is_staff_member(user),
        "is_administrator": is_administrator(user),
        "user_roles": sorted(role_names(user)),
    }
