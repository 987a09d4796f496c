"""Issue 10 #13: a change not yet assessed (and an emergency change) is shown as not
assessed, never as 'Low', on its page, in the list, in the API and in the filters."""

from __future__ import annotations

from django.test import Client

from itsm.models import Change, StandardChangeTemplate
from itsm.services import changes as cs
from tests.conftest import api_as
from tests.itsm.test_changes import PLANS


def _change(org, **kw) -> Change:  # type: ignore[no-untyped-def]
    return cs.change_create(
        actor=org.developer,
        title=kw.pop("title", "Upgrade payroll"),
        services=[org.service],
        implementer=org.developer,
        **{**PLANS, **kw},
    )


def test_unassessed_and_emergency_changes_show_no_risk_level(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #13: 'Risk: Low' before any assessment and on emergencies is gone."""
    draft = _change(org)
    emergency = cs.change_submit(
        change=_change(org, title="Hotfix", type="emergency"), actor=org.developer
    )
    assessed = cs.change_submit(change=_change(org, title="Assessed"), actor=org.developer)
    assessed = cs.change_assess(
        change=assessed, actor=org.change_manager, risk_answers={"many_users": True}
    )
    template = StandardChangeTemplate.objects.create(
        name="Restart", implementation_plan="restart", backout_plan="none"
    )
    template.services.add(org.service)
    standard = cs.change_create(actor=org.developer, type="standard", template=template)

    assert draft.risk == "" and draft.get_risk_display() == "Not assessed"
    assert emergency.risk == "" and not emergency.risk_assessed
    assert assessed.risk == "medium" and assessed.risk_assessed
    assert standard.risk == "low"  # pre-approved low risk by its template

    page = Client()
    page.force_login(org.change_manager)
    for change in (draft, emergency):
        html = page.get(change.get_absolute_url()).content.decode()
        assert "Risk: Not assessed" in html and "Risk: Low" not in html
    listing = page.get("/changes/?show=all").content.decode()
    assert "Not assessed" in listing

    api = api_as(org.change_manager)
    body = api.get(f"/api/v1/changes/{draft.key}/").json()
    assert body["risk"] is None and body["risk_label"] == "Not assessed"
    assert api.get(f"/api/v1/changes/{assessed.key}/").json()["risk"] == "medium"
    keys = {c["key"] for c in api.get("/api/v1/changes/?risk=unassessed").json()["results"]}
    assert keys == {draft.key, emergency.key}
    keys = {c["key"] for c in api.get("/api/v1/changes/?risk=low").json()["results"]}
    assert keys == {standard.key}
