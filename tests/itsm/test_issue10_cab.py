"""Issue 10 #17: the CAB in the browser. The Send to CAB form offered an empty
``<select multiple>`` (the shared field renderer did not give many-valued fields their
choices, and the page read only the last posted value) and no groups; a change raised by
the only Change Manager could never be approved. Now the browser names members and groups,
and an approval nobody may give is refused when it is asked for."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.test.client import RequestFactory

from core.exceptions import ValidationFailed
from core.forms import field_specs, form_data
from core.roles import Role
from itsm.api.change_serializers import RequestApprovalInput
from itsm.models import Approval, CatalogItem, ServiceRequest
from itsm.services import approvals
from itsm.services import changes as cs
from itsm.services import requests as rs
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.itsm.test_changes import PLANS


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def assessed(org, requester=None, implementer=None):  # type: ignore[no-untyped-def]
    requester = requester or org.developer
    ch = cs.change_create(
        actor=requester,
        title="Upgrade payroll to 2.3",
        services=[org.service],
        implementer=implementer or org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=requester)
    return cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})


def _options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*multiple[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no <select multiple> named {name}"
    return re.findall(r"<option [^>]*>([^<]*)</option>", select.group(1))


def test_issue10_17_many_valued_fields_are_rendered_with_their_choices(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17: the shared renderer offers a many-valued field's choices, and the
    shared form reader keeps every value posted."""
    specs = {f.name: f for f in field_specs(RequestApprovalInput(), initial={"groups": [1]})}
    assert specs["approvers"].kind == specs["groups"].kind == "multiselect"
    labels = {label for _, label in specs["approvers"].choices}
    assert labels >= {str(org.agent), str(org.change_manager)}  # by the name they go by
    assert Role.CHANGE_MANAGER.value in {label for _, label in specs["groups"].choices}
    assert specs["groups"].value == ["1"]
    post = RequestFactory().post("/", {"approvers": ["3", "4"], "groups": ["7"], "comment": ""})
    expected = {"approvers": ["3", "4"], "groups": ["7"]}
    assert form_data(post.POST, RequestApprovalInput()) == expected
    one = RequestFactory().post("/", {"approvers": "3"})
    assert form_data(one.POST, RequestApprovalInput()) == {"approvers": ["3"]}


def test_issue10_17_send_to_cab_names_members_and_groups_in_the_browser(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17: the page lists the CAB members who may approve (not the requester or
    the implementer) and the groups; posting two members and a group asks all three."""
    cab1 = UserFactory(username="cab1", roles=[Role.CHANGE_MANAGER])
    ch = assessed(org)
    cm = client_for(org.change_manager)
    page = cm.get(ch.get_absolute_url()).content.decode()
    members = _options(page, "approvers")
    assert str(cab1) in members and str(org.change_manager) in members
    assert str(org.developer) not in members  # requester and implementer: may not approve
    groups = _options(page, "groups")
    assert Role.CHANGE_MANAGER.value in groups and Role.REQUESTER.value not in groups
    board = Group.objects.create(name="Payroll CAB")
    board.user_set.add(org.incident_manager)
    res = cm.post(
        f"/changes/{ch.key}/transitions/request_approval/",
        {"approvers": [cab1.pk, org.admin.pk], "groups": [board.pk], "comment": "Please"},
    )
    assert res.status_code == 302, res.content.decode()[:800]
    ch.refresh_from_db()
    assert ch.status == "awaiting_approval"
    asked = {(a.approver_id, a.group_id) for a in approvals.approvals_of(ch)}
    assert asked == {(cab1.pk, None), (org.admin.pk, None), (None, board.pk)}


def test_issue10_17_only_change_manager_raised_it_refused_at_request_time(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17: a change raised by the only Change Manager, sent to "any Change
    Manager", is refused with a form error (page) and a 400 (API), nothing written; naming
    another member works."""
    ch = assessed(org, requester=org.change_manager, implementer=org.developer)
    cm = client_for(org.change_manager)
    res = cm.post(f"/changes/{ch.key}/transitions/request_approval/", {"comment": ""})
    assert res.status_code == 400
    page = res.content.decode()
    assert "Nobody can approve for Change Manager" in page and 'id="action-error"' in page
    assert 'data-transition="request_approval"' in page and "open" in page
    ch.refresh_from_db()
    assert ch.status == "assessment" and not Approval.objects.exists()
    api = api_as(org.change_manager)
    url = f"/api/v1/changes/{ch.key}/transitions/request_approval/"
    res = api.post(url, {}, format="json")
    assert res.status_code == 400 and "approvers" in res.json()["fields"]
    res = api.post(url, {"approvers": [org.change_manager.pk]}, format="json")
    assert res.status_code == 400 and "requested" in res.json()["detail"]
    assert api.post(url, {"approvers": [org.admin.pk]}, format="json").status_code == 200


def test_issue10_17_a_group_nobody_in_may_approve_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17: a group whose only active members are the requester or implementer
    (or that has none) is refused when named."""
    ch = assessed(org)
    conflicted = Group.objects.create(name="Dev leads")
    conflicted.user_set.add(org.developer)
    empty = Group.objects.create(name="Nobody")
    for group in (conflicted, empty):
        with pytest.raises(ValidationFailed, match="Nobody can approve") as err:
            cs.change_request_approval(change=ch, actor=org.change_manager, groups=[group])
        assert "groups" in err.value.errors
    ch.refresh_from_db()
    assert ch.status == "assessment"


def test_issue10_17_a_request_nobody_may_approve_is_refused_at_submit(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #17 (the same mistake on service requests): an item approved by a group
    whose only member is the requester refuses the order instead of waiting for ever."""
    group = Group.objects.create(name="Self approvers")
    group.user_set.add(org.requester)
    item = CatalogItem.objects.create(
        name="Monitor",
        service=org.service,
        fulfilment_team=org.support,
        approval="group",
        approval_group=group,
    )
    with pytest.raises(ValidationFailed, match="own request"):
        rs.request_submit(actor=org.requester, item=item, answers={})
    assert not ServiceRequest.objects.exists()
    group.user_set.add(org.admin)
    assert rs.request_submit(actor=org.requester, item=item, answers={}).status == (
        "awaiting_approval"
    )
