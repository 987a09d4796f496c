"""The only write path for per-service process roles (``core.models.ServiceRole``): an
administrator names someone Incident, Problem, Change or Release Manager of one service,
or takes it back. Each write is one transaction with one audit row on the service."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from core.exceptions import ActionForbidden, ConflictError, ValidationFailed
from core.models import Service, ServiceRole
from core.roles import (
    PROCESS_ROLES,
    Role,
    can_edit_service_roles,
    forget_service_roles,
    is_staff_member,
)
from core.services import audit_record


def service_roles_of(service: Service) -> QuerySet[ServiceRole]:
    return service.role_holders.select_related("user").order_by("role", "user__username")


def service_role_assign(
    *, service: Service, user: AbstractBaseUser, role: str, actor: AbstractBaseUser
) -> ServiceRole:
    """Make ``user`` hold process ``role`` for ``service``. 403 unless the actor is an
    administrator; 400 for a role that is not a process role, or a user who is inactive
    or no staff member (a requester); 409 when the person holds it already. Audit:
    ``service_role_assigned`` on the service."""
    if not can_edit_service_roles(actor):
        raise ActionForbidden("Only administrators name per-service role holders.")
    if role not in {r.value for r in PROCESS_ROLES}:
        allowed = ", ".join(r.value for r in PROCESS_ROLES)
        raise ValidationFailed(f"'{role}' is not a process role: one of {allowed}.", field="role")
    if not user.is_active:
        raise ValidationFailed(f"{user} is not an active user.", field="user")
    if not is_staff_member(user):
        # A process role is staff work: a requester holding one would see no problem,
        # change or release it names them for (core.visibility opens them to staff).
        raise ValidationFailed(
            f"{user} is a requester; give them a staff role before a process role.",
            field="user",
        )
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if ServiceRole.objects.filter(service=locked, user=user, role=role).exists():
            raise ConflictError(f"{user} is {role} of {locked} already.")
        held = ServiceRole.objects.create(service=locked, user=user, role=role)
        forget_service_roles(user)
        audit_record(
            target=locked,
            actor=actor,
            action="service_role_assigned",
            comment=f"{user} is {Role(role).label} of {locked}.",
            changes={"role_holder": (None, f"{user}: {role}")},
        )
    return held


def service_role_remove(*, held: ServiceRole, actor: AbstractBaseUser) -> None:
    """Take a per-service role back (403 unless administrator). Audit:
    ``service_role_removed`` on the service."""
    if not can_edit_service_roles(actor):
        raise ActionForbidden("Only administrators remove per-service role holders.")
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=held.service_id)
        text = f"{held.user} is no longer {held.role} of {service}."
        held.delete()
        forget_service_roles(held.user)
        audit_record(
            target=service,
            actor=actor,
            action="service_role_removed",
            comment=text,
            changes={"role_holder": (f"{held.user}: {held.role}", None)},
        )
