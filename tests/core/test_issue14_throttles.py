"""Issue 14: API rate limits per user, per token and per address (429 + Retry-After)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from core.api.throttles import AnonThrottle, parse_rate
from tests.conftest import api_as

URL = "/api/v1/incidents/"


@pytest.fixture(autouse=True)
def _fresh_counters():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def test_user_over_the_limit_hears_429_with_retry_after(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_THROTTLE_RATES = {"user": "3/min"}
    client = api_as(org.agent)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    res = client.get(URL)
    assert res.status_code == 429
    assert 0 < int(res["Retry-After"]) <= 60
    body = res.json()
    assert body["code"] == "throttled"
    assert "throttled" in body["detail"].lower()
    # another user has their own budget
    assert api_as(org.requester).get(URL).status_code == 200


def test_each_token_has_its_own_budget_within_the_users(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_THROTTLE_RATES = {"token": "2/min", "user": "5/min"}

    def client_with_new_token() -> APIClient:
        Token.objects.filter(user=org.agent).delete()  # DRF's tokens: one per user
        return APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=org.agent).key}")

    first = client_with_new_token()
    assert [first.get(URL).status_code for _ in range(3)] == [200, 200, 429]
    second = client_with_new_token()  # its own token budget…
    assert [second.get(URL).status_code for _ in range(2)] == [200, 200]
    third = client_with_new_token()  # …but the user's (5, every request counted) is spent
    assert third.get(URL).status_code == 429


def test_anonymous_are_limited_by_address(settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_THROTTLE_RATES = {"anon": "2/min"}
    factory = APIRequestFactory()

    def allowed(addr: str) -> bool:
        request = Request(factory.get("/api/v1/schema/", REMOTE_ADDR=addr))
        request.user = AnonymousUser()
        return AnonThrottle().allow_request(request, None)

    assert [allowed("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert allowed("10.0.0.2")


def test_limits_are_off_when_not_set(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_THROTTLE_RATES = {"user": "off", "token": ""}
    client = api_as(org.agent)
    assert {client.get(URL).status_code for _ in range(5)} == {200}


def test_default_rates_leave_room_for_the_bench() -> None:
    """8 users at hundreds of requests a second share one bench user: bench/load.py turns
    the per-user and per-token limits off, and the defaults are 100 a second per user."""
    from pathlib import Path

    from config import settings as config

    assert parse_rate(config.API_THROTTLE_RATES["user"]) == (6000, 60)
    assert parse_rate(config.API_THROTTLE_RATES["token"]) == (6000, 60)
    load = (Path(config.BASE_DIR) / "bench" / "load.py").read_text()
    assert 'env.setdefault("API_THROTTLE_USER", "off")' in load
    assert parse_rate("off") is None
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("100/hour") == (100, 3600)
