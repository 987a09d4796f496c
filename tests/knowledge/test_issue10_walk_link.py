"""Issue 10 #2/#3 (walk): the project manager, who works no incidents, was offered "Link
to this incident" on an incident of another team's queue and linking succeeded (audited on
the incident as their work); linking an article is work on the incident."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden
from core.roles import Role
from itsm import services as itsm
from knowledge import services as kb
from knowledge.models import Article
from tests.factories import UserFactory


@pytest.fixture
def article(org) -> Article:  # type: ignore[no-untyped-def]
    a = kb.article_create(
        actor=org.agent, title="Payslip shows wrong tax code", body="Check the tax table."
    )
    return kb.article_transition(article=a, actor=org.agent, name="publish")


def test_only_who_works_the_incident_links_an_article(org, article) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #3 (walk): offered and accepted by the same rule."""
    inc = itsm.incident_create(
        actor=org.requester, service=org.service, title="Payslip shows wrong tax code"
    )
    pm = UserFactory(username="pm", roles=[Role.PROJECT_MANAGER])
    outsider = Client()
    outsider.force_login(pm)
    page = outsider.get(inc.get_absolute_url()).content.decode()
    assert article.key in page  # the article is suggested to read ...
    assert "Link to this incident" not in page  # ... but not offered to link
    res = outsider.post(f"/kb/{article.key}/solved/", {"incident": inc.key})
    assert res.status_code == 403
    with pytest.raises(ActionForbidden):
        kb.article_used(article=article, actor=pm, incident=inc)

    desk = Client()
    desk.force_login(org.agent)
    assert "Link to this incident" in desk.get(inc.get_absolute_url()).content.decode()
    assert desk.post(f"/kb/{article.key}/solved/", {"incident": inc.key}).status_code == 302
