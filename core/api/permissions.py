from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.roles import is_administrator


class IsAdministratorOrReadOnly(BasePermission):
    message = "Only administrators may change this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_administrator(request.user)
