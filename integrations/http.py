"""Outbound HTTP for webhooks and connectors, safe against server-side request forgery.

A subscription's or a connector's URL is typed by a user, so a request to it must not
reach Tandem's own network (the database, the metadata service of a cloud, an admin
port on 127.0.0.1) unless an administrator allowed that receiver. The address is checked
where it cannot be swapped afterwards: on the connected socket's peer, after DNS has
resolved and the TCP connection is made (a check of the name before the request would
lose to a DNS answer that changes between the check and the connect). Redirects are not
followed: a receiver that answers 3xx has not accepted the delivery.

``post``/``request`` answer a ``Response`` or raise ``DeliveryFailed`` with what the
outbox needs: whether to retry, and after how long (``Retry-After``).
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from core.outbox import DeliveryFailed

USER_AGENT = "Tandem-Integrations/1"
# The answers after which the same request may succeed later (besides timeouts and
# refused connections): the receiver is overloaded, down or asks us to slow down.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class AddressRefused(DeliveryFailed):
    """The receiver resolved to an address Tandem does not send to."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


def address_is_private(address: str) -> bool:
    """Loopback, private (RFC 1918, unique local), link-local (cloud metadata), carrier
    NAT, multicast, reserved and unspecified addresses: not the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _check_peer(sock: socket.socket, allow_private: bool) -> None:
    peer = sock.getpeername()[0]
    if not allow_private and address_is_private(peer):
        sock.close()
        raise AddressRefused(
            f"The receiver's address {peer} is on a private network; an administrator "
            "must allow private receivers for this subscription or connector."
        )


def _guarded(base: type, allow_private: bool) -> type:
    class Guarded(base):  # type: ignore[misc, valid-type]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            _check_peer(sock, allow_private)
            return sock

    return Guarded


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        allow = self._allow_private

        class Http(HTTPConnectionPool):
            ConnectionCls = _guarded(HTTPConnection, allow)

        class Https(HTTPSConnectionPool):
            ConnectionCls = _guarded(HTTPSConnection, allow)

        self.poolmanager.pool_classes_by_scheme = {"http": Http, "https": Https}


def session(*, allow_private: bool) -> requests.Session:
    """A session whose every connection is checked (see the module's docstring)."""
    s = requests.Session()
    s.trust_env = False  # never through a proxy from the environment: it would be the peer
    adapter = _GuardedAdapter(allow_private=allow_private)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    return s


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    elapsed_ms: int


def request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    headers: dict[str, str] | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    auth: Any = None,
    accept: frozenset[int] | None = None,
) -> Answer:
    """One request. Answers the response when its status is 2xx (or in ``accept``); raises
    ``DeliveryFailed`` otherwise: retryable (with the receiver's ``Retry-After``) for a
    timeout, a refused or reset connection and the statuses in ``RETRYABLE``, permanent
    for any other status. The raised error carries the ``answer`` when there was one."""
    if not url.lower().startswith(("http://", "https://")):
        raise DeliveryFailed(f"Only http(s) URLs are called, not {url!r}.", permanent=True)
    try:
        with session(allow_private=allow_private) as s:
            response = s.request(
                method,
                url,
                headers=headers,
                data=data,
                json=json,
                auth=auth,
                timeout=timeout,
                allow_redirects=False,
            )
            body = response.text[:10_000]
    except DeliveryFailed:
        raise
    except requests.exceptions.ConnectionError as exc:
        if isinstance(exc.__context__, AddressRefused) or "private network" in str(exc):
            raise AddressRefused(_refusal(exc)) from exc
        raise DeliveryFailed(f"Could not connect: {_short(exc)}") from exc
    except requests.exceptions.Timeout as exc:
        raise DeliveryFailed(f"No answer within {timeout:g} s.") from exc
    except requests.exceptions.RequestException as exc:
        raise DeliveryFailed(f"The request failed: {_short(exc)}", permanent=True) from exc
    answer = Answer(
        status=response.status_code,
        headers=dict(response.headers),
        body=body,
        elapsed_ms=int(response.elapsed.total_seconds() * 1000),
    )
    if 200 <= answer.status < 300 or (accept and answer.status in accept):
        return answer
    failure = DeliveryFailed(
        f"The receiver answered {answer.status}.",
        retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
        permanent=answer.status not in RETRYABLE,
    )
    failure.answer = answer  # type: ignore[attr-defined]
    raise failure


def _short(exc: BaseException) -> str:
    return str(exc)[:300]


def _refusal(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return str(seen)
        seen = seen.__context__ or seen.__cause__
    text = str(exc)
    start = text.find("The receiver's address")
    return text[start : text.find("connector.", start) + len("connector.")] if start >= 0 else text
