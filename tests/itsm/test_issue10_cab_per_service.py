"""Issue 10 review, #17 with #20: an approval asked of the Change Managers' group may be
given by a per-service Change Manager of the change's service (``may_decide``), so the
CAB refusal ("nobody can approve") counts them too, and the request for approval is
sent to them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from core.exceptions import ValidationFailed
from core.models import OutboxMessage, ServiceRole
from core.roles import Role
from itsm.models import Approval
from itsm.services import approvals
from itsm.services import changes as cs
from tests.factories import UserFactory
from tests.itsm.test_changes import PLANS


def _raised_by_the_only_change_manager(org):  # type: ignore[no-untyped-def]
    ch = cs.change_create(
        actor=org.change_manager,
        title="Rotate the payroll certificates",
        services=[org.service],
        implementer=org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.change_manager)
    return cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})


def test_issue10_17_20_per_service_change_manager_makes_the_cab_approvable(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17/#20: the only global Change Manager raised the change, but the
    service has its own Change Manager: the default CAB is approvable by them, they
    approve it, and the CAB is complete."""
    local = UserFactory(username="payroll_cm", roles=[Role.DEVELOPER])
    ServiceRole.objects.create(service=org.service, user=local, role=Role.CHANGE_MANAGER)
    ch = _raised_by_the_only_change_manager(org)

    ch = cs.change_request_approval(change=ch, actor=org.change_manager)  # was 400

    (approval,) = Approval.objects.filter(object_id=ch.pk, group__name=Role.CHANGE_MANAGER)
    asked = OutboxMessage.objects.filter(event="approval.requested").get()
    assert local.email in asked.recipients  # they are told it awaits them
    assert approvals.may_decide(local, approval)
    cs.change_decide(approval=approval, actor=local, decision="approved")
    assert approvals.approvals_of(ch).get().decision == "approved"
    assert cs.approvals_complete(ch)


def test_issue10_17_20_per_service_holder_of_another_service_does_not_count(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17/#20: a Change Manager of some other service may not decide, so the
    refusal stands."""
    from tests.factories import ServiceFactory

    elsewhere = ServiceFactory(name="Intranet")
    local = UserFactory(username="intranet_cm", roles=[Role.DEVELOPER])
    ServiceRole.objects.create(service=elsewhere, user=local, role=Role.CHANGE_MANAGER)
    ch = _raised_by_the_only_change_manager(org)
    with pytest.raises(ValidationFailed, match="Nobody can approve"):
        cs.change_request_approval(
            change=ch, actor=org.change_manager, groups=[Group.objects.get(name="Change Manager")]
        )
