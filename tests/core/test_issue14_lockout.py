"""Issue 14, the front door: sign-in lock-out per username and per address (django-axes,
core.signin) on the sign-in page and /api/v1/auth/token/, and the audit rows of sign-ins,
failed sign-ins and lock-outs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditEvent
from tests.factories import UserFactory

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _limits(settings):  # type: ignore[no-untyped-def]
    # The shipped defaults, pinned: the tests count to them.
    settings.AXES_FAILURE_LIMIT = 5
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 20


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="alice")


def _sign_in(password: str, *, username: str = "alice", address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_the_right_password_signs_in(alice) -> None:  # type: ignore[no-untyped-def]
    res = _sign_in("pw")
    assert res.status_code == 302


def test_thirty_wrong_passwords_then_the_right_one_is_refused(alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(30):
        res = _sign_in("wrong")
        assert res.status_code in (200, 429)
    res = _sign_in("pw")
    assert res.status_code == 429
    body = res.content.decode()
    assert "Too many failed sign-ins; try again in 15 minutes or ask an administrator." in body
    assert "_auth_user_id" not in res.wsgi_request.session


def test_the_limit_is_the_fifth_failure(alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert _sign_in("wrong").status_code == 200
    assert _sign_in("wrong").status_code == 429  # the fifth locks: its answer says so
    assert _sign_in("pw").status_code == 429


def test_four_failures_leave_the_right_password_open(alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        _sign_in("wrong")
    assert _sign_in("pw").status_code == 302


def test_lock_out_per_user_holds_from_every_address(alice) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        _sign_in("wrong", address=f"10.0.1.{n}")
    assert _sign_in("pw", address="10.9.9.9").status_code == 429
    # another person from one of those addresses is not locked out
    UserFactory(username="bob")
    assert _sign_in("pw", username="bob", address="10.0.1.1").status_code == 302


def test_lock_out_per_address_holds_for_every_user(alice) -> None:  # type: ignore[no-untyped-def]
    # spraying: one guess each at many usernames from one address
    for n in range(19):
        assert _sign_in("guess", username=f"nobody{n}").status_code == 200
    assert _sign_in("guess", username="nobody19").status_code == 429
    assert _sign_in("pw", address="10.0.0.1").status_code == 429
    assert _sign_in("pw", address="10.0.0.2").status_code == 302  # alice elsewhere is fine


def test_cool_off_ends_the_lock_out(alice, settings) -> None:  # type: ignore[no-untyped-def]
    import time_machine
    from django.utils import timezone

    for _ in range(5):
        _sign_in("wrong")
    assert _sign_in("pw").status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME, tick=False):
        assert _sign_in("pw").status_code == 302


def test_the_token_endpoint_locks_out_with_json(alice) -> None:  # type: ignore[no-untyped-def]
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(4):
        res = api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
        assert res.status_code == 400
    res = api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    assert res.status_code == 429
    res = api.post(TOKEN, {"username": "alice", "password": "pw"}, format="json")
    assert res.status_code == 429
    assert res["Content-Type"] == "application/json"
    assert res.json()["code"] == "locked_out"
    assert "Too many failed sign-ins" in res.json()["detail"]
    assert res["Retry-After"] == str(15 * 60)


def test_the_page_and_the_api_share_one_count(alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        _sign_in("wrong")
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    assert api.post(TOKEN, {"username": "alice", "password": "pw"}).status_code == 429
    assert _sign_in("pw").status_code == 429


def test_the_shared_token_endpoint_still_works(alice) -> None:  # type: ignore[no-untyped-def]
    res = APIClient().post(TOKEN, {"username": "alice", "password": "pw"}, format="json")
    assert res.status_code == 200 and res.json()["token"]


def test_a_forged_forwarded_for_is_not_a_fresh_address(alice) -> None:  # type: ignore[no-untyped-def]
    """With no proxy configured, X-Forwarded-For is the client's to invent: ignored."""
    for n in range(25):
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            LOGIN, {"username": f"nobody{n}", "password": "x"}
        )
    res = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.200").post(
        LOGIN, {"username": "alice", "password": "pw"}
    )
    assert res.status_code == 429


def test_behind_a_proxy_the_forwarded_address_counts(alice, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SIGNIN_TRUSTED_PROXIES = 1  # nginx: appends the client's address
    for n in range(20):
        Client(REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").post(
            LOGIN, {"username": f"nobody{n}", "password": "x"}
        )
    # the proxy's own address is shared by everyone: another client behind it is not locked
    res = Client(REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8").post(
        LOGIN, {"username": "alice", "password": "pw"}
    )
    assert res.status_code == 302
    # what the client itself put in front (forged) does not make it someone else
    res = Client(REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7").post(
        LOGIN, {"username": "alice", "password": "pw"}
    )
    assert res.status_code == 429
    (row,) = AuditEvent.objects.filter(action="locked_out")
    assert row.changes["address"] == [None, "203.0.113.7"]


# --- audit ----------------------------------------------------------------------------


def test_a_sign_in_is_audited_on_the_user(alice) -> None:  # type: ignore[no-untyped-def]
    _sign_in("pw", address="10.0.0.7")
    (row,) = _events("signed_in")
    assert row.target == alice and row.actor == alice
    assert row.changes["address"] == [None, "10.0.0.7"]


def test_a_token_sign_in_is_audited(alice) -> None:  # type: ignore[no-untyped-def]
    APIClient(REMOTE_ADDR="10.0.0.8").post(TOKEN, {"username": "alice", "password": "pw"})
    (row,) = _events("signed_in")
    assert row.target == alice and row.comment == "API token"
    assert row.changes["address"] == [None, "10.0.0.8"]


def test_a_failed_sign_in_is_audited_without_the_password(alice) -> None:  # type: ignore[no-untyped-def]
    _sign_in("s3cret-guess", address="10.0.0.9")
    (row,) = _events("sign_in_failed")
    assert row.target == alice and row.actor is None
    assert row.changes == {"username": [None, "alice"], "address": [None, "10.0.0.9"]}
    assert "s3cret-guess" not in str(row.changes) + row.comment


def test_a_failed_sign_in_for_no_account_is_audited(db) -> None:  # type: ignore[no-untyped-def]
    _sign_in("x", username="ghost")
    (row,) = _events("sign_in_failed")
    assert row.content_type == ContentType.objects.get_for_model(get_user_model())
    assert row.object_id == 0  # no such account
    assert row.changes["username"] == [None, "ghost"]


def test_a_lock_out_is_audited_once(alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(30):
        _sign_in("wrong")
    _sign_in("pw")
    (row,) = _events("locked_out")
    assert row.target == alice
    fifth = _events("sign_in_failed")[4]
    assert fifth.id < row.id  # the failure that locked, then the lock-out
    assert row.changes == {"username": [None, "alice"], "address": [None, "10.0.0.1"]}
    failed = _events("sign_in_failed")
    assert len(failed) == 31  # every try, the refused right password too
    assert failed[-1].comment == "Refused: locked out."
    assert failed[0].comment == "Wrong username or password."
    assert not _events("signed_in")


def test_sign_ins_without_a_username_do_not_share_one_lock(db) -> None:  # type: ignore[no-untyped-def]
    """Single sign-on's callback authenticates with no username: five failures of five
    people must not lock out the sixth (they are counted per address only)."""
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    def attempt(address: str):  # type: ignore[no-untyped-def]
        request = RequestFactory().post("/oidc/callback/", REMOTE_ADDR=address)
        authenticate(request, code="expired")
        return request

    for n in range(6):
        attempt(f"10.2.0.{n}")
    assert not getattr(attempt("10.2.0.99"), "tandem_refused_locked", False)
    for _ in range(20):
        attempt("10.2.1.1")
    assert attempt("10.2.1.1").tandem_refused_locked  # the address limit still holds
