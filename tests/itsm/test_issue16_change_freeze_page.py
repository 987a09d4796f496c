"""Issue 16, flow 2 (found in the browser): scheduling a normal change inside a change
freeze left the change page for a bare "Not possible now" error page (409), the typed
window lost and only "Back" to go on with. The change page comes back instead, the
schedule form open with the window as typed and the freeze named."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from itsm.models import FreezeWindow
from itsm.services import approvals
from itsm.services import changes as cs
from tests.projects.test_release_control import PLANS


def test_a_window_in_a_freeze_comes_back_on_the_change_page(org) -> None:  # type: ignore[no-untyped-def]
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    start += timedelta(days=14)
    FreezeWindow.objects.create(name="Payday freeze", start=start, end=start + timedelta(days=3))
    ch = cs.change_create(
        actor=org.developer,
        title="Upgrade the database",
        services=[org.service],
        implementer=org.developer,
        **PLANS,
    )
    ch = cs.change_submit(change=ch, actor=org.developer)
    ch = cs.change_assess(change=ch, actor=org.change_manager, risk_answers={})
    ch = cs.change_request_approval(
        change=ch, actor=org.change_manager, approvers=[org.incident_manager]
    )
    [a] = approvals.approvals_of(ch)
    cs.change_decide(approval=a, actor=org.incident_manager, decision="approved")

    c = Client()
    c.force_login(org.change_manager)
    typed = (start + timedelta(days=1, hours=20)).strftime("%Y-%m-%dT%H:%M")
    res = c.post(
        f"/changes/{ch.key}/transitions/schedule/",
        {"planned_start": typed, "planned_end": typed[:-5] + "22:00"},
    )
    assert res.status_code == 409
    page = res.content.decode()
    assert f"<h1>{ch.key} · Upgrade the database</h1>" in page  # the change page
    assert 'id="action-error">The window falls in a freeze: Payday freeze' in page
    assert 'open data-transition="schedule"' in page.replace("  ", " ")
    assert f'value="{typed}"' in page  # the window as typed
    ch.refresh_from_db()
    assert ch.status == "awaiting_approval" and ch.planned_start is None
