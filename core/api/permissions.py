from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.roles import is_administrator, is_staff_member


class IsAdministratorOrReadOnly(BasePermission):
    message = "Only administrators may change this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_administrator(request.user)


class IsStaffReadAdministratorWrite(IsAdministratorOrReadOnly):
    """How support is organised (teams, SLA policies, calendars): staff read it, only
    administrators change it; requesters see none of it, as on their pages."""

    message = "Only staff may read this, and only administrators change it."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return super().has_permission(request, view) and is_staff_member(request.user)
