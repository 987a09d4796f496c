"""Issue 10 review: bad ids and values on the endpoints and pages the issue added answer
4xx, never 500, and a form's ``next`` never leads off the site."""

from __future__ import annotations

from django.test import Client

from itsm import services as itsm
from projects import services as ps
from tests.conftest import api_as
from tests.projects.test_release_control import ready_release

__all__ = ["ready_release"]  # the fixture, used by name

BAD = ["abc", "-1", "0", "99999", "", "1.5", "9" * 30]


def _page(org, user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_issue10_bad_ids_on_new_pages_are_4xx(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20/#24 review: the service page's remove-holder form, the change page's
    emergency decision form and the approvals form answer 4xx for ids that are not
    numbers (were 500: ValueError in the queryset filter)."""
    admin, cm = _page(org, org.admin), _page(org, org.change_manager)
    change = ready_release.change.key
    answers = []
    for bad in BAD:
        answers.append(admin.post(f"/services/{org.service.pk}/", {"op": "remove", "holder": bad}))
        for data in (
            {"release": bad, "project_manager": bad, "slip_days": bad, "developer": bad},
            {"release": ready_release.pk, "project_manager": org.admin.pk, "slip_days": "1",
             "developer": bad},
            {"release": ready_release.pk, "project_manager": bad, "slip_days": "1"},
        ):  # fmt: skip
            answers.append(cm.post(f"/changes/{change}/emergency-decision/", data))
        answers.append(cm.post("/approvals/", {"approval": bad, "decision": "approved"}))
    codes = {r.status_code for r in answers}
    assert codes and all(400 <= c < 500 for c in codes), codes


def test_issue10_api_bad_values_are_4xx(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #20/#24/#8/#9/#5/#19 review: the new API endpoints refuse bad values."""
    admin, cm = api_as(org.admin), api_as(org.change_manager)
    inc = itsm.incident_escalate(
        incident=itsm.incident_create(actor=org.requester, service=org.service, title="x"),
        actor=org.agent,
        reason="L2",
    )
    defect = ps.incident_to_development(incident=inc, actor=org.support2, reason="bug")
    rid, sid = ready_release.pk, org.service.pk
    answers = []
    for bad in [*BAD, None, [], {}, True]:
        roles = f"/api/v1/services/{sid}/roles/"
        answers += [
            admin.post(roles, {"user": bad, "role": "Change Manager"}, format="json"),
            admin.post(roles, {"user": org.agent.pk, "role": bad}, format="json"),
            cm.post(
                "/api/v1/emergency-decisions/",
                {"change": bad, "release": bad, "project_manager": bad, "slip_days": bad},
                format="json",
            ),
            cm.post(f"/api/v1/emergency-decisions/{bad}/confirm/", {"comment": bad}, format="json"),
            cm.post(
                f"/api/v1/releases/{rid}/move-out/",
                {"items": [defect.key], "reason": "r", "to_release": bad},
                format="json",
            ),
            cm.post(
                f"/api/v1/releases/{rid}/move-out/", {"items": bad, "reason": bad}, format="json"
            ),
            cm.post(
                f"/api/v1/releases/{rid}/go-live/", {"outside_window_reason": bad}, format="json"
            ),
            cm.get(f"/api/v1/defects/{bad}/sla/"),
            cm.get(f"/api/v1/problems/candidates/?days={bad}&minimum={bad}"),
            cm.get(f"/api/v1/emergency-decisions/?change={bad}&status={bad}&release={bad}"),
        ]
    codes = {r.status_code for r in answers}
    assert codes and all(400 <= c < 500 for c in codes), codes


def test_issue10_next_stays_on_the_site(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #24 review: the emergency-decision answer form (and the other forms with a
    ``next``) redirect only to a page of this site, not wherever ``next`` says."""
    from projects.models import EmergencyDecision

    decision = EmergencyDecision.objects.create(
        change=ready_release.change,
        release=ready_release,
        change_manager=org.change_manager,
        project_manager=org.admin,
        slip_days=1,
    )
    res = _page(org, org.admin).post(
        f"/emergency-decisions/{decision.pk}/confirm/", {"next": "https://evil.example/x"}
    )
    assert res.status_code == 302
    assert res["Location"] == ready_release.change.get_absolute_url()
