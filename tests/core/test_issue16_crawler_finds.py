"""What the issue-16 crawler (tests/e2e/test_crawler.py) found, each proven without a
browser."""

from __future__ import annotations

from django.test import Client


def test_users_me_answers_a_browser_session_not_a_500(org) -> None:  # type: ignore[no-untyped-def]
    # Signed in by session (the browsable API's link), request.user is Django's lazy
    # object: the ETag is the user's version, not an AttributeError on its proxy type.
    c = Client()
    c.force_login(org.admin)
    res = c.get("/api/v1/users/me/", HTTP_ACCEPT="application/json")
    assert res.status_code == 200, res.content[:300]
    assert res.json()["username"] == "admin" and res["ETag"]
    assert c.get("/api/v1/users/me/", HTTP_IF_NONE_MATCH=res["ETag"]).status_code == 304
