"""API rate limits: per user, per token, and per address for the anonymous.

Each is a fixed-window counter in the cache (Redis when ``REDIS_URL`` is set): one
``INCR`` per request and limit, whatever the rate. DRF's ``SimpleRateThrottle`` keeps a
list of every request's time in the window and rewrites it on each request, which at
thousands a minute costs more than the request it guards. Rates come from
``API_THROTTLE_RATES`` (``API_THROTTLE_USER``, ``API_THROTTLE_TOKEN``,
``API_THROTTLE_ANON`` in the environment: ``6000/min``, ``off`` …), read per request.
Refused requests answer 429 with ``Retry-After`` (DRF) and a JSON body.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"6000/min"`` → (6000, 60); empty, ``off`` or ``none`` → None (no limit)."""
    if not rate or rate.strip().lower() in ("off", "none", "0"):
        return None
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


class WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = parse_rate(getattr(settings, "API_THROTTLE_RATES", {}).get(self.scope))
        if rate is None:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{period}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class UserThrottle(WindowThrottle):
    """All requests of a signed-in user, whatever token or session they come with."""

    scope = "user"

    def ident(self, request: Request) -> str | None:
        user = request.user
        return str(user.pk) if user and user.is_authenticated else None


class TokenThrottle(WindowThrottle):
    """Each API token on its own (a user's scripts do not starve each other's budget
    beyond the user's)."""

    scope = "token"

    def ident(self, request: Request) -> str | None:
        auth = request.auth
        if auth is None:
            return None
        raw = getattr(auth, "pk", None) or getattr(auth, "key", None) or auth
        # a digest, not the token, in the cache's keys
        return f"{type(auth).__name__}:{hashlib.sha256(str(raw).encode()).hexdigest()[:24]}"


class AnonThrottle(WindowThrottle):
    """Requests without a signed-in user, by address (``NUM_PROXIES`` as DRF reads it)."""

    scope = "anon"

    def ident(self, request: Request) -> str | None:
        user = request.user
        if user and user.is_authenticated:
            return None
        return self.get_ident(request)
