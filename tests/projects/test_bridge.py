"""The bridge: an incident escalated to development is a defect's symptom, linked both
ways, never copied; the backlog is ordered by what hurts users most."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import OutboxMessage
from core.selectors import history_of
from itsm import services as itsm
from projects import selectors
from projects import services as ps
from projects.models import WorkItem, WorkItemStatus
from tests.conftest import api_as

GRAPH = {
    "triage": {"open": "triaged"},
    "start": {"open": "in_progress", "triaged": "in_progress"},
    "submit_review": {"in_progress": "in_review"},
    "rework": {"in_review": "in_progress"},
    "fix": {"in_progress": "fixed", "in_review": "fixed"},
    "release": {"fixed": "released"},
    "reopen": {"fixed": "in_progress", "released": "in_progress"},
    "close": {"released": "closed", "wont_fix": "closed", "duplicate": "closed"},
    "wont_fix": {"open": "wont_fix", "triaged": "wont_fix", "in_progress": "wont_fix"},
    "mark_duplicate": {"open": "duplicate", "triaged": "duplicate"},
}


def test_work_item_state_machine_table() -> None:
    field = WorkItem._meta.get_field("status")
    assert {t.name for t in field.get_all_transitions(WorkItem)} == set(GRAPH)
    for state in WorkItemStatus.values:
        item = WorkItem()
        item.__dict__["status"] = state
        available = {t.name: t.target for t in item.get_available_status_transitions()}
        assert available == {n: t[state] for n, t in GRAPH.items() if state in t}, state


def _at_tier_2(org):  # type: ignore[no-untyped-def]
    inc = itsm.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payslip wrong",
        impact="high",
        urgency="high",
    )
    return itsm.incident_escalate(incident=inc, actor=org.agent, reason="needs L2")


def test_escalating_to_development_raises_a_linked_defect(org, project) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    defect = ps.incident_to_development(incident=inc, actor=org.support2, reason="Tax table bug")
    inc.refresh_from_db()
    assert (inc.tier, inc.team) == (3, org.dev)
    assert defect.key.startswith("DEF-") and defect.project == project
    assert defect.priority == inc.priority and list(defect.incidents.all()) == [inc]
    assert history_of(inc).filter(action="linked_to_defect").exists()
    assert history_of(defect).filter(action="incident_linked").exists()
    second = _at_tier_2(org)
    same = ps.incident_to_development(
        incident=second, actor=org.support2, reason="same", defect=defect
    )
    assert same == defect and defect.incidents.count() == 2
    with pytest.raises(ValidationFailed):
        other = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
        ps.defect_link_incident(item=other, actor=org.developer, incident=second)


def test_no_project_for_the_service_is_a_clear_400(org) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    with pytest.raises(ValidationFailed, match="No project builds"):
        ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    inc.refresh_from_db()
    assert inc.tier == 2  # nothing half-done


def test_defect_inherits_earliest_breach_and_affected_requesters(org, project) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        urgent = _at_tier_2(org)  # P1: resolution due in 4 h
        calm = itsm.incident_create(
            actor=org.requester2, service=org.service, title="Slow", impact="low", urgency="low"
        )
        calm = itsm.incident_escalate(incident=calm, actor=org.agent, reason="L2")
        d_urgent = ps.incident_to_development(incident=urgent, actor=org.support2, reason="r")
        d_calm = ps.incident_to_development(incident=calm, actor=org.support2, reason="r")
        d_none = ps.work_item_create(
            actor=org.developer, kind="defect", project=project, title="Typo", priority=1
        )
    backlog = list(selectors.backlog_order(selectors.work_items(org.developer, "defect")))
    assert [d.key for d in backlog] == [d_urgent.key, d_calm.key, d_none.key]
    assert backlog[0].affected_requesters == 1 and backlog[0].earliest_due is not None


def test_fix_names_the_release_and_tells_the_agents(org, project, release) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    defect = ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    with pytest.raises(ActionForbidden):
        ps.work_start(item=defect, actor=org.agent)
    defect = ps.work_start(item=defect, actor=org.developer)
    with pytest.raises(ValidationFailed, match="release"):
        ps.work_fix(item=defect, actor=org.developer)
    defect = ps.work_fix(item=defect, actor=org.developer, release=release)
    assert (defect.status, defect.fixed_in_release) == ("fixed", release)
    assert history_of(inc).filter(action="fix_planned").exists()
    assert OutboxMessage.objects.filter(event="defect.fixed").exists()
    with pytest.raises(IllegalTransition):
        ps.work_fix(item=defect, actor=org.developer, release=release)


def test_duplicate_hands_its_incidents_to_the_original(org, project) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    dup = ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    original = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Original"
    )
    ps.work_mark_duplicate(item=dup, actor=org.developer, duplicate_of=original)
    assert list(original.incidents.all()) == [inc] and dup.incidents.count() == 0


def test_enhancement_delivers_a_change(org, project) -> None:  # type: ignore[no-untyped-def]
    from itsm.services import changes as cs

    change = cs.change_create(
        actor=org.developer, title="New payslip layout", services=[org.service]
    )
    enh = ps.work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="Payslip layout v2"
    )
    ps.enhancement_link_change(item=enh, actor=org.developer, change=change)
    assert list(change.work_items.all()) == [enh]
    assert history_of(change).filter(action="enhancement_linked").exists()


def test_api_bridge(org, project, release) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    support, dev = api_as(org.support2), api_as(org.developer)
    res = support.post(f"/api/v1/incidents/{inc.key}/defect/", {"reason": "Tax bug"}, format="json")
    assert res.status_code == 201, res.content
    key = res.json()["key"]
    shown = support.get(f"/api/v1/incidents/{inc.key}/").json()["defect"]
    assert shown["key"] == key and shown["status"] == "open"
    assert support.get(f"/api/v1/incidents/{inc.key}/defect/").json()["key"] == key
    body = dev.get(f"/api/v1/defects/{key}/").json()
    assert body["incident_count"] == 1 and body["incidents"][0]["key"] == inc.key
    t = f"/api/v1/defects/{key}/transitions/"
    assert dev.post(t + "start/", {}, format="json").status_code == 200
    assert dev.post(t + "fix/", {}, format="json").status_code == 400
    res = dev.post(t + "fix/", {"release": release.pk}, format="json")
    assert res.status_code == 200 and res.json()["fixed_in_release"]["version"] == "2.3"
    assert api_as(org.agent).post(t + "reopen/", {"comment": "x"}, format="json").status_code == 403
    assert dev.get("/api/v1/defects/?incident=" + inc.key).json()["count"] == 1
    assert api_as(org.requester).get(f"/api/v1/defects/{key}/").status_code == 404
    res = dev.post("/api/v1/enhancements/", {"project": "PAY", "title": "Export v2"}, format="json")
    assert res.status_code == 201 and res.json()["key"].startswith("ENH-")
    assert dev.get(f"/api/v1/defects/{res.json()['key']}/").status_code == 404


def test_pages(org, project, release) -> None:  # type: ignore[no-untyped-def]
    inc = _at_tier_2(org)
    c = Client()
    c.force_login(org.support2)
    page = c.get(inc.get_absolute_url()).content.decode()
    assert "Escalate to development" in page
    c.post(f"/incidents/{inc.key}/development/", {"reason": "Tax bug", "severity": "critical"})
    inc.refresh_from_db()
    defect = inc.work_items.get()
    assert inc.tier == 3 and defect.severity == "critical"
    assert defect.key in c.get(inc.get_absolute_url()).content.decode()
    dev = Client()
    dev.force_login(org.developer)
    for url in (
        "/projects/",
        "/projects/PAY/",
        "/projects/PAY/backlog/",
        defect.get_absolute_url(),
        release.get_absolute_url(),
        "/work/new/?kind=defect&project=PAY",
    ):
        res = dev.get(url)
        assert res.status_code == 200, url
    assert defect.key in dev.get("/projects/PAY/").content.decode()
    dev.post(f"/work/{defect.key}/transitions/start/", {})
    dev.post(f"/work/{defect.key}/transitions/fix/", {"release": release.pk})
    defect.refresh_from_db()
    assert defect.status == "fixed"
    requester = Client()
    requester.force_login(org.requester)
    mine = requester.get(inc.get_absolute_url()).content.decode()
    assert "A fix is ready and will ship in release" in mine and "2.3" in mine
    assert defect.key not in mine
    assert requester.get("/projects/").status_code == 404


def test_one_mapping_for_both_sides_words(org, project) -> None:  # type: ignore[no-untyped-def]
    from projects.models import term

    assert term("incident", "development") == "defect"
    assert term("defect", "support") == "incident"
    assert term("change", "development") == "enhancement"
    assert term("enhancement", "support") == "change"
    inc = _at_tier_2(org)
    defect = ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    c = Client()
    c.force_login(org.developer)
    queue = c.get(f"/desk/?queue=team-{org.dev.pk}").content.decode()
    assert f"/work/{defect.key}/" in queue  # the 3rd-line queue has the defect at hand
    assert (
        "Development sees this incident as defect" in c.get(inc.get_absolute_url()).content.decode()
    )
    assert (
        "Support sees this defect as these incidents"
        in c.get(defect.get_absolute_url()).content.decode()
    )
