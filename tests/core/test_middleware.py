"""A NUL character in a request is a 400 everywhere, never a database error."""

from __future__ import annotations

from django.test import Client

from tests.conftest import api_as


def test_nul_characters_are_refused_with_a_400(org) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.agent)
    page = c.get("/desk/?q=a%00b")
    assert page.status_code == 400 and b"NUL" in page.content
    res = api_as(org.agent).get("/api/v1/incidents/?q=a%00b")
    assert res.status_code == 400 and "NUL" in res.json()["detail"]
    form = c.post("/kb/new/", {"title": "a\x00b", "body": "x"})
    assert form.status_code == 400
    assert c.get("/desk/?q=ab").status_code == 200  # an ordinary request passes
