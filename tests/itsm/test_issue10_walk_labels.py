"""Issue 10 #15 (walk): the activity stream printed a change's risk answers as raw keys in
random order ("untested: no, first_time: no, many_users: yes, …")."""

from __future__ import annotations

from django.test import Client

from itsm.services import changes as cs
from tests.itsm.test_changes import PLANS


def test_risk_answers_read_as_the_factors_answered_yes(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #15 (walk): "Risk answers: — → many users, business hours"."""
    ch = cs.change_create(actor=org.developer, title="Upgrade", services=[org.service], **PLANS)
    ch = cs.change_submit(change=ch, actor=org.developer)
    cs.change_assess(
        change=ch,
        actor=org.change_manager,
        risk_answers={"business_hours": True, "many_users": True, "untested": False},
    )
    c = Client()
    c.force_login(org.change_manager)
    page = c.get(ch.get_absolute_url()).content.decode()
    assert "many users, business hours" in page
    assert "many_users: yes" not in page
    assert "untested: no" not in page


def test_recurring_candidates_name_their_words_as_written(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #15/#19 (walk): the candidates page listed compared stems ("addres,
    postcod, stopp, noth"); it lists the words as the incidents wrote them."""
    from itsm import services as itsm
    from itsm.selectors import recurring_incidents

    for _ in range(3):
        itsm.incident_create(
            actor=org.requester,
            service=org.service,
            title="Address form rejects valid postcodes",
            description="Nothing happens",
        )
    [group] = recurring_incidents()
    written = set(["address", "form", "rejects", "valid", "postcodes", "nothing", "happens"])
    assert len(group.terms) == 5 and set(group.terms) <= written, group.terms
