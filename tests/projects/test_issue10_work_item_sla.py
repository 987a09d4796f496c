"""Issue 10 #5: a work item's SLA is its incidents' — /defects/{id}/sla/ and
/enhancements/{id}/sla/ answered 500 ('WorkItem' object has no attribute 'sla_clocks').
And every shared ticket route (history, comments, sla, transitions) of every ticket type
answers without a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from itsm import services as itsm
from itsm.api.tickets import TicketViewSet
from itsm.models import CatalogItem
from itsm.services import changes as cs
from itsm.services import problems as prs
from itsm.services import requests as rs
from knowledge import services as ks
from projects import services as ps
from tests.conftest import api_as


@pytest.mark.parametrize("kind,path", [("defect", "defects"), ("enhancement", "enhancements")])
def test_issue10_5_work_item_sla_is_its_incidents(org, project, kind, path) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #5: the work item's SLA is the earliest due among its open incidents'
    ticking clocks, the same moment the backlog orders by."""
    api = api_as(org.developer)
    item = ps.work_item_create(actor=org.developer, kind=kind, project=project, title="Totals")
    empty = api.get(f"/api/v1/{path}/{item.key}/sla/")
    assert empty.status_code == 200, empty.content
    assert empty.json() == {
        "key": item.key,
        "earliest_due": None,
        "breached": False,
        "incidents": [],
    }
    p1 = itsm.incident_create(
        actor=org.requester, service=org.service, title="Down", impact="high", urgency="high"
    )
    p4 = itsm.incident_create(actor=org.requester, service=org.service, title="Slow")
    done = itsm.incident_create(actor=org.requester, service=org.service, title="Done")
    itsm.incident_cancel(incident=done, actor=org.requester)
    for inc in (p4, done, p1):
        ps.defect_link_incident(item=item, actor=org.developer, incident=inc)
    body = api.get(f"/api/v1/{path}/{item.key}/sla/").json()
    assert [i["key"] for i in body["incidents"]] == [p1.key, p4.key, done.key]
    first = body["incidents"][0]
    assert first["is_open"] is True and first["clocks"]
    assert {c["target"] for c in first["clocks"]} == {"response", "resolution"}
    listed = api.get(f"/api/v1/{path}/", {"ordering": "earliest_due"}).json()
    [row] = [r for r in listed["results"] if r["key"] == item.key]
    assert body["earliest_due"] == row["earliest_due"] == first["next_due"]
    assert body["breached"] is False
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        later = api.get(f"/api/v1/{path}/{item.key}/sla/").json()
    assert later["breached"] is True
    assert api_as(org.requester).get(f"/api/v1/{path}/{item.key}/sla/").status_code == 404


def test_issue10_5_schema_says_what_work_item_sla_returns(db) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #5: the schema documents the work item SLA, not an incident's clocks."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/defects/{id}/sla/", "/api/v1/enhancements/{id}/sla/"):
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ref["schema"]["$ref"].endswith("/WorkItemSla")
    assert "earliest_due" in schema["components"]["schemas"]["WorkItemSla"]["properties"]


def _ticket_routes() -> dict[str, list[str]]:
    """Each API prefix served by a TicketViewSet, with its detail GET actions."""
    from config.urls import knowledge_router
    from itsm.api.urls import router as itsm_router
    from projects.api.urls import router as projects_router

    routes: dict[str, list[str]] = {}
    for router in (itsm_router, projects_router, knowledge_router):
        for prefix, viewset, _ in router.registry:
            if not issubclass(viewset, TicketViewSet):
                continue
            routes[prefix] = [
                a.url_path
                for a in viewset.get_extra_actions()
                if a.detail and "get" in a.mapping and "(?P<" not in a.url_path
            ]
    return routes


def test_issue10_5_every_ticket_route_answers_without_500(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #5: every shared route of every ticket type answers, none with a 500."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Down")
    problem = prs.problem_create(actor=org.problem_manager, title="Leak", service=org.service)
    change = cs.change_create(actor=org.change_manager, title="Patch", services=[org.service])
    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    req = rs.request_submit(actor=org.requester, item=item, answers={})
    defect = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="d")
    enh = ps.work_item_create(actor=org.developer, kind="enhancement", project=project, title="e")
    article = ks.article_create(actor=org.developer, title="How to", body="Restart it.")
    keys = {
        "incidents": (inc.key, org.incident_manager),
        "problems": (problem.key, org.problem_manager),
        "changes": (change.key, org.change_manager),
        "requests": (req.key, org.admin),
        "defects": (defect.key, org.developer),
        "enhancements": (enh.key, org.developer),
        "articles": (article.key, org.developer),
    }
    routes = _ticket_routes()
    assert set(routes) == set(keys), routes
    assert "sla" in routes["defects"] and "sla" in routes["enhancements"]
    assert "sla" not in routes["articles"]  # articles have no clocks: not routed
    for prefix, suffixes in routes.items():
        key, user = keys[prefix]
        for suffix in suffixes:
            res = api_as(user).get(f"/api/v1/{prefix}/{key}/{suffix}/")
            assert res.status_code == 200, (prefix, suffix, res.status_code, res.content[:300])
