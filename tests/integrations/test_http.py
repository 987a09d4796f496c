"""integrations.http: outbound requests that cannot be pointed at Tandem's own network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.outbox import DeliveryFailed
from integrations.http import AddressRefused, address_is_private, request, retry_after_seconds
from tests.integrations.receiver import http_receiver


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # a cloud's metadata service
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:127.0.0.1", True),  # IPv4 loopback written as IPv6
        ("224.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_private_addresses(address: str, private: bool) -> None:
    assert address_is_private(address) is private


def test_a_receiver_on_a_private_address_is_refused_unless_allowed() -> None:
    with http_receiver() as receiver:
        with pytest.raises(AddressRefused, match="private network"):
            request("POST", receiver.url + "/hook", allow_private=False, timeout=5, data=b"{}")
        assert receiver.received == []  # refused before a byte of the request was sent
        answer = request("POST", receiver.url + "/hook", allow_private=True, timeout=5, data=b"{}")
    assert answer.status == 200 and receiver.received[0].path == "/hook"


def test_a_name_that_resolves_to_loopback_is_refused_too() -> None:
    with http_receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        with pytest.raises(AddressRefused):
            request("GET", f"http://localhost:{port}/", allow_private=False, timeout=5)
        assert receiver.received == []


def test_what_is_retried_and_what_is_not() -> None:
    with http_receiver() as receiver:
        receiver.answer(503, {"Retry-After": "7"})
        receiver.answer(500)
        receiver.answer(404)
        receiver.answer(302, {"Location": "http://169.254.169.254/"})
        with pytest.raises(DeliveryFailed) as busy:
            request("POST", receiver.url, allow_private=True, timeout=5)
        assert (busy.value.permanent, busy.value.retry_after) == (False, 7.0)
        with pytest.raises(DeliveryFailed) as down:
            request("POST", receiver.url, allow_private=True, timeout=5)
        assert (down.value.permanent, down.value.retry_after) == (False, None)
        with pytest.raises(DeliveryFailed) as missing:
            request("POST", receiver.url, allow_private=True, timeout=5)
        assert missing.value.permanent and missing.value.answer.status == 404
        with pytest.raises(DeliveryFailed, match="answered 302"):  # redirects not followed
            request("POST", receiver.url, allow_private=True, timeout=5)
        assert len(receiver.received) == 4


def test_a_refused_connection_is_retried() -> None:
    with http_receiver() as receiver:
        url = receiver.url
    with pytest.raises(DeliveryFailed) as refused:
        request("POST", url, allow_private=True, timeout=5)
    assert not refused.value.permanent and "connect" in str(refused.value)


def test_only_http_urls() -> None:
    with pytest.raises(DeliveryFailed, match="Only http"):
        request("GET", "file:///etc/passwd", allow_private=True, timeout=5)


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Sun, 06 Dec 2026 12:01:30 GMT", now=now) == 90.0
    assert retry_after_seconds("Sun, 06 Dec 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
