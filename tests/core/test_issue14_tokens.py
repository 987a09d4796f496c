"""Issue 14, the front door: personal API tokens (core.tokens) — created, named, scoped,
given an expiry, listed and revoked on the profile page and at /api/v1/tokens/; shown
once, stored hashed; the shared token of /api/v1/auth/token/ keeps working."""

from __future__ import annotations

import datetime
import hashlib

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core import tokens
from core.exceptions import NotFound, ValidationFailed
from core.models import AuditEvent, PersonalToken
from itsm.models import Incident
from tests.conftest import api_as

TOKENS = "/api/v1/tokens/"
PAGE = "/profile/tokens/"
READ_URL = "/api/v1/incidents/"


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _incident_body(org) -> dict:  # type: ignore[no-untyped-def]
    return {
        "title": "Payroll down",
        "description": "x",
        "service": org.service.pk,
        "impact": "low",
        "urgency": "low",
    }


def test_token_lifecycle_through_the_api(org) -> None:  # type: ignore[no-untyped-def]
    """Created → works → a read token cannot write → revoked → 401."""
    res = api_as(org.requester).post(TOKENS, {"name": "CI", "scope": "read"}, format="json")
    assert res.status_code == 201, res.content
    raw = res.json()["token"]
    assert raw.startswith("tdm_") and res.json()["prefix"] == raw[:14]
    token_id = res.json()["id"]

    assert _bearer(raw).get(READ_URL).status_code == 200
    refused = _bearer(raw).post(READ_URL, _incident_body(org), format="json")
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]

    res = api_as(org.requester).post(f"{TOKENS}{token_id}/revoke/")
    assert res.status_code == 200 and res.json()["status"] == "revoked"
    gone = _bearer(raw).get(READ_URL)
    assert gone.status_code == 401
    assert gone.json()["detail"] == "This token has been revoked."


def test_a_write_token_writes_as_its_user(org) -> None:  # type: ignore[no-untyped-def]
    _, raw = tokens.token_create(
        user=org.requester, name="bot", scope="write", expires_at=None, actor=org.requester
    )
    res = _bearer(raw).post(READ_URL, _incident_body(org), format="json")
    assert res.status_code == 201, res.content
    assert Incident.objects.get(pk=res.json()["id"]).requester == org.requester


def test_token_prefix_in_the_token_header_works_too(org) -> None:  # type: ignore[no-untyped-def]
    _, raw = tokens.token_create(
        user=org.agent, name="cli", scope="read", expires_at=None, actor=org.agent
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get(READ_URL).status_code == 200


def test_an_expired_token_is_401(org) -> None:  # type: ignore[no-untyped-def]
    soon = timezone.now() + datetime.timedelta(days=1)
    _, raw = tokens.token_create(
        user=org.agent, name="short", scope="read", expires_at=soon, actor=org.agent
    )
    assert _bearer(raw).get(READ_URL).status_code == 200
    with time_machine.travel(soon + datetime.timedelta(seconds=1), tick=False):
        res = _bearer(raw).get(READ_URL)
    assert res.status_code == 401
    assert res.json()["detail"] == "This token has expired."


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tdm_0000000000_nope",
        "Bearer not-a-token",
        "Bearer",
        "Bearer a b",
        "Token tdm_0000000000_nope",
    ],
)
def test_a_bad_token_is_401_never_500(db, header: str) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(READ_URL).status_code == 401


def test_a_tampered_secret_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    _, raw = tokens.token_create(
        user=org.agent, name="x", scope="read", expires_at=None, actor=org.agent
    )
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert _bearer(forged).get(READ_URL).status_code == 401


def test_an_inactive_users_token_is_refused(org) -> None:  # type: ignore[no-untyped-def]
    _, raw = tokens.token_create(
        user=org.agent, name="x", scope="read", expires_at=None, actor=org.agent
    )
    org.agent.is_active = False
    org.agent.save()
    assert _bearer(raw).get(READ_URL).status_code == 401


def test_the_secret_is_not_stored_in_clear(org) -> None:  # type: ignore[no-untyped-def]
    token, raw = tokens.token_create(
        user=org.agent, name="x", scope="write", expires_at=None, actor=org.agent
    )
    secret = raw[15:]
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM core_personaltoken WHERE id = %s", [token.pk])
        row = cur.fetchone()
    stored = " ".join(str(v) for v in row)
    assert secret not in stored and raw not in stored
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    # nor in the audit trail
    assert raw not in str(list(AuditEvent.objects.values_list("changes", "comment")))


def test_the_secret_is_shown_once(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post(TOKENS, {"name": "CI", "scope": "read"}, format="json")
    raw = res.json()["token"]
    listed = api_as(org.agent).get(TOKENS).json()
    detail = api_as(org.agent).get(f"{TOKENS}{res.json()['id']}/").json()
    assert raw not in str(listed) and raw not in str(detail)
    assert "token" not in detail


def test_a_retried_create_keeps_and_replays_no_secret(org) -> None:  # type: ignore[no-untyped-def]
    """An Idempotency-Key keeps the first answer for a day in plain JSON: not the token."""
    from core.models import IdempotencyKey

    headers = {"Idempotency-Key": "token-create-1"}
    api = api_as(org.agent)
    first = api.post(TOKENS, {"name": "CI", "scope": "read"}, format="json", headers=headers)
    raw = first.json()["token"]
    assert raw.startswith("tdm_")
    assert raw not in str(IdempotencyKey.objects.get(key="token-create-1").response_body)
    again = api.post(TOKENS, {"name": "CI", "scope": "read"}, format="json", headers=headers)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and raw not in again.content.decode()
    assert PersonalToken.objects.filter(user=org.agent).count() == 1


def test_last_used_is_written_at_most_once_a_minute(org) -> None:  # type: ignore[no-untyped-def]
    token, raw = tokens.token_create(
        user=org.agent, name="x", scope="read", expires_at=None, actor=org.agent
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _bearer(raw).get(READ_URL)
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        _bearer(raw).get(READ_URL)
    token.refresh_from_db()
    assert token.last_used_at == start
    later = start + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        _bearer(raw).get(READ_URL)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_the_shared_token_and_the_session_keep_working(org) -> None:  # type: ignore[no-untyped-def]
    res = APIClient().post(
        "/api/v1/auth/token/", {"username": "agent", "password": "pw"}, format="json"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {res.json()['token']}")
    assert client.get(READ_URL).status_code == 200
    session = APIClient()
    session.force_login(org.agent)
    assert session.get(READ_URL).status_code == 200


# --- creating and revoking ------------------------------------------------------------


def test_create_and_revoke_are_audited(org) -> None:  # type: ignore[no-untyped-def]
    token, _ = tokens.token_create(
        user=org.agent, name="CI", scope="read", expires_at=None, actor=org.agent
    )
    tokens.token_revoke(token_id=token.pk, actor=org.agent)
    tokens.token_revoke(token_id=token.pk, actor=org.agent)  # again: nothing more
    rows = list(AuditEvent.objects.filter(object_id=token.pk, content_type__model="personaltoken"))
    assert [r.action for r in rows] == ["created", "revoked"]
    assert all(r.actor == org.agent for r in rows)
    assert rows[0].changes["name"] == [None, "CI"] and rows[0].changes["scope"] == [None, "read"]


def test_expiry_defaults_to_and_is_bounded_by_the_maximum(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_TOKEN_MAX_DAYS = 30
    token, _ = tokens.token_create(
        user=org.agent, name="a", scope="read", expires_at=None, actor=org.agent
    )
    assert token.expires_at is not None
    assert (
        abs(token.expires_at - (timezone.now() + datetime.timedelta(days=30))).total_seconds() < 60
    )
    too_far = timezone.now() + datetime.timedelta(days=31)
    res = api_as(org.agent).post(
        TOKENS, {"name": "b", "scope": "read", "expires_at": too_far.isoformat()}, format="json"
    )
    assert res.status_code == 400 and "30 days" in str(res.json())
    past = timezone.now() - datetime.timedelta(days=1)
    res = api_as(org.agent).post(
        TOKENS, {"name": "c", "scope": "read", "expires_at": past.isoformat()}, format="json"
    )
    assert res.status_code == 400 and "future" in str(res.json())
    assert PersonalToken.objects.filter(user=org.agent).count() == 1


def test_no_maximum_allows_a_token_that_never_expires(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_TOKEN_MAX_DAYS = 0
    token, _ = tokens.token_create(
        user=org.agent, name="a", scope="read", expires_at=None, actor=org.agent
    )
    assert token.expires_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "scope": "read"},
        {"name": "x" * 101, "scope": "read"},
        {"name": "x", "scope": "admin"},
        {"name": "x"},
        {"name": "x", "scope": "read", "expires_at": "soon"},
    ],
)
def test_bad_input_is_400_and_creates_nothing(org, body) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post(TOKENS, body, format="json")
    assert res.status_code == 400
    assert not PersonalToken.objects.exists()


def test_a_name_in_use_is_400(org) -> None:  # type: ignore[no-untyped-def]
    tokens.token_create(user=org.agent, name="CI", scope="read", expires_at=None, actor=org.agent)
    with pytest.raises(ValidationFailed, match="already have a token"):
        tokens.token_create(
            user=org.agent, name="CI", scope="read", expires_at=None, actor=org.agent
        )
    # another person may use the name
    tokens.token_create(
        user=org.requester, name="CI", scope="read", expires_at=None, actor=org.requester
    )


def test_a_personal_token_cannot_create_tokens_but_can_revoke_itself(org) -> None:  # type: ignore[no-untyped-def]
    token, raw = tokens.token_create(
        user=org.agent, name="bot", scope="write", expires_at=None, actor=org.agent
    )
    res = _bearer(raw).post(TOKENS, {"name": "child", "scope": "write"}, format="json")
    assert res.status_code == 403
    assert PersonalToken.objects.count() == 1
    assert _bearer(raw).post(f"{TOKENS}{token.pk}/revoke/").status_code == 200
    assert _bearer(raw).get(READ_URL).status_code == 401


def test_another_persons_token_is_404(org) -> None:  # type: ignore[no-untyped-def]
    token, _ = tokens.token_create(
        user=org.agent, name="mine", scope="read", expires_at=None, actor=org.agent
    )
    other = api_as(org.requester)
    assert other.get(f"{TOKENS}{token.pk}/").status_code == 404
    assert other.post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
    assert other.get(TOKENS).json()["results"] == []
    with pytest.raises(NotFound):
        tokens.token_revoke(token_id=token.pk, actor=org.requester)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_list_shows_the_callers_tokens(org) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b"):
        tokens.token_create(
            user=org.agent, name=name, scope="read", expires_at=None, actor=org.agent
        )
    res = api_as(org.agent).get(TOKENS)
    assert [r["name"] for r in res.json()["results"]] == ["b", "a"]
    assert set(res.json()["results"][0]) == {
        "id", "name", "scope", "prefix", "status", "created_at", "expires_at",
        "last_used_at", "revoked_at",
    }  # fmt: skip


# --- the profile page -----------------------------------------------------------------


def _page_client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_page_creates_a_token_and_shows_it_once(org) -> None:  # type: ignore[no-untyped-def]
    """Post/Redirect/Get (core.once): the create answers 303 to the list, which shows the
    secret once; a reload (a GET) shows it no more and creates nothing."""
    client = _page_client(org.agent)
    res = client.post(PAGE, {"name": "laptop", "scope": "write", "expires_in": "30"})
    assert res.status_code == 303 and res["Location"] == PAGE
    token = PersonalToken.objects.get(user=org.agent)
    assert token.prefix not in res.content.decode()  # the redirect carries no secret
    shown = client.get(PAGE)
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    secret = shown.context["secret"]
    assert secret.startswith(token.prefix)
    page = shown.content.decode()
    assert secret in page and 'data-testid="token-created"' in page and "“laptop” created" in page
    assert "will not be shown again" in page
    assert token.scope == "write"
    assert (
        abs((token.expires_at - timezone.now()) - datetime.timedelta(days=30)).total_seconds() < 60
    )
    again = client.get(PAGE).content.decode()
    assert secret not in again and "laptop" in again and token.prefix in again
    assert 'data-testid="token-created"' not in again
    assert PersonalToken.objects.filter(user=org.agent).count() == 1


def test_the_secret_kept_for_the_redirect_is_its_sessions_alone(org) -> None:  # type: ignore[no-untyped-def]
    """Another session of the same person does not see it, and one nobody took in time
    (the redirect not followed) is dropped, not shown to whoever opens the page later."""
    client = _page_client(org.agent)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert client.post(PAGE, {"name": "ci", "scope": "read"}).status_code == 303
        other = _page_client(org.agent)
        assert 'data-testid="token-created"' not in other.get(PAGE).content.decode()
        traveller.shift(datetime.timedelta(minutes=6))
        late = client.get(PAGE)
    assert late.context["secret"] is None
    assert 'data-testid="token-created"' not in late.content.decode()


def test_a_refused_create_on_the_page_stays_a_4xx_with_nothing_kept(org) -> None:  # type: ignore[no-untyped-def]
    client = _page_client(org.agent)
    res = client.post(PAGE, {"name": "", "scope": "read"})
    assert res.status_code == 400 and "field-error" in res.content.decode()
    assert not PersonalToken.objects.filter(user=org.agent).exists()
    assert not any(k.startswith("shown_once:") for k, _ in client.session.items())


def test_the_page_lists_and_revokes_the_owners_tokens(org) -> None:  # type: ignore[no-untyped-def]
    token, _ = tokens.token_create(
        user=org.agent, name="laptop", scope="read", expires_at=None, actor=org.agent
    )
    owner = _page_client(org.agent)
    page = owner.get(PAGE).content.decode()
    assert "laptop" in page
    assert f'action="/profile/tokens/{token.pk}/revoke/"' in page
    assert 'data-testid="token-create"' in page

    other = _page_client(org.requester)
    theirs = other.get(PAGE).content.decode()
    assert "laptop" not in theirs and f"/profile/tokens/{token.pk}/revoke/" not in theirs
    assert other.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    res = owner.post(f"/profile/tokens/{token.pk}/revoke/")
    assert res.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    page = owner.get(PAGE).content.decode()
    assert "Revoked" in page and f"/profile/tokens/{token.pk}/revoke/" not in page


def test_the_page_refuses_bad_input_with_a_message(org) -> None:  # type: ignore[no-untyped-def]
    client = _page_client(org.agent)
    tokens.token_create(user=org.agent, name="dup", scope="read", expires_at=None, actor=org.agent)
    res = client.post(PAGE, {"name": "dup", "scope": "read", "expires_in": "30"})
    assert res.status_code == 400
    assert "already have a token" in res.content.decode()
    res = client.post(PAGE, {"name": "x", "scope": "root", "expires_in": "30"})
    assert res.status_code == 400
    assert PersonalToken.objects.count() == 1


def test_the_page_needs_a_sign_in(db) -> None:  # type: ignore[no-untyped-def]
    res = Client().get(PAGE)
    assert res.status_code == 302 and "/accounts/login/" in res["Location"]


def test_the_user_menu_links_the_page(org) -> None:  # type: ignore[no-untyped-def]
    page = _page_client(org.requester).get("/notifications/").content.decode()
    assert 'href="/profile/tokens/"' in page


def test_an_administrator_revokes_anyones_token_in_the_admin(org) -> None:  # type: ignore[no-untyped-def]
    token, raw = tokens.token_create(
        user=org.agent, name="leaked", scope="write", expires_at=None, actor=org.agent
    )
    org.admin.is_staff = org.admin.is_superuser = True
    org.admin.save()
    client = _page_client(org.admin)
    res = client.post(
        "/admin/core/personaltoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert res.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    row = AuditEvent.objects.get(action="revoked", object_id=token.pk)
    assert row.actor == org.admin
    assert _bearer(raw).get(READ_URL).status_code == 401
    # the admin never shows the digest
    page = client.get(f"/admin/core/personaltoken/{token.pk}/change/").content.decode()
    assert token.digest not in page
