"""Issue 13: the service desk's remaining lists (the catalogue, approvals, saved views,
canned replies: API and pages) cost a fixed number of queries, whatever the number of rows
they show: measured with one row of each kind, then with twelve, the count is the same
and the twelve are on the page. (tests/itsm/test_issue13_list_pins.py pins the problem,
change and request lists.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from itsm.models import CatalogItem, CatalogTaskTemplate
from itsm.services import changes as cs
from itsm.services.canned import canned_reply_create
from itsm.services.requests import request_submit
from itsm.services.saved_views import saved_view_create
from tests.itsm.test_changes import PLANS
from tests.pins import assert_pinned, client_for, count


@pytest.fixture
def approvers(org):  # type: ignore[no-untyped-def]
    """A group that approves catalogue requests, the Change Manager in it."""
    group = Group.objects.create(name="Hardware approvers")
    org.change_manager.groups.add(group)
    return group


def _add(org, approvers, i: int) -> None:  # type: ignore[no-untyped-def]
    """One more row of every list: a catalogue item (its request waits for the group's
    approval), a change awaiting the CAB, a personal and a shared canned reply, a personal
    and a shared saved view."""
    item = CatalogItem.objects.create(
        name=f"Item {i}",
        service=org.service,
        fulfilment_team=org.support,
        approval="group",
        approval_group=approvers,
    )
    CatalogTaskTemplate.objects.create(item=item, title=f"Hand over {i}")
    request_submit(actor=org.requester, item=item, answers={})
    ch = cs.change_create(
        actor=org.developer,
        title=f"Change {i}",
        services=[org.service],
        implementer=org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    cs.change_request_approval(change=ch, actor=org.change_manager)  # the CM group
    canned_reply_create(actor=org.agent, title=f"Mine {i}", body="Hello")
    canned_reply_create(actor=org.agent, title=f"Shared {i}", body="Hello", team=org.desk)
    saved_view_create(actor=org.agent, name=f"View {i}", query={"status": ["new"]})
    saved_view_create(
        actor=org.agent, name=f"Team view {i}", query={"priority": ["1"]}, team=org.desk
    )


CASES = [
    ("/api/v1/catalog-items/", "requester", count('"name":"Item ')),
    ("/api/v1/approvals/", "change_manager", count('"REQ-')),
    ("/api/v1/approvals/", "change_manager", count('"CHG-')),
    ("/api/v1/saved-views/", "agent", count('"name":"')),
    ("/api/v1/canned-replies/", "agent", count('"title":"')),
    ("/catalogue/", "requester", count("Item ")),
    ("/approvals/", "change_manager", lambda b: min(b.count("REQ-"), b.count("CHG-"))),
    ("/desk/canned/", "agent", lambda b: min(b.count("Mine "), b.count("Shared "))),
]


@pytest.mark.parametrize(("url", "role", "shown"), CASES)
def test_desk_lists_cost_the_same_for_one_or_twelve_rows(org, approvers, url, role, shown) -> None:  # type: ignore[no-untyped-def]
    viewer = getattr(org, role)
    assert_pinned(client_for(viewer, url), url, lambda i: _add(org, approvers, i), shown)
