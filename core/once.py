"""A secret shown once, across a redirect: Post/Redirect/Get for the pages that create or
rotate one (a personal API token, a webhook's signing secret).

The POST that makes the secret keeps it in the session under a one-time key
(``secret_keep``) and answers ``303 See Other`` (``see_other``); the GET that follows takes
it out (``secret_take``) and shows it, with ``Cache-Control: no-store``. A reload is then a
plain GET: nothing is created again, and the secret is gone. It is never put in the URL
(logs, history, Referer) nor in a cache. Sessions are kept in the database
(``SESSION_ENGINE`` is Django's default), so the secret leaves the server only in that one
answer; it stays in the session row only between the POST and its GET, and an entry
nobody took (the redirect was not followed) is dropped after ``KEEP_SECONDS``.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url

PREFIX = "shown_once:"
# Long enough for any redirect to be followed; short enough that a secret nobody took
# is not shown to whoever opens the page later in the same session.
KEEP_SECONDS = 300


def secret_keep(request: HttpRequest, key: str, value: Any) -> None:
    """Keep ``value`` (JSON-serialisable) for the next ``secret_take(request, key)``,
    replacing what was kept under ``key`` before."""
    request.session[PREFIX + key] = {"value": value, "at": time.time()}


def secret_take(request: HttpRequest, key: str) -> Any | None:
    """What ``secret_keep`` kept under ``key``, removed as it is read: a second call (a
    reload) gets None. None too when it was kept longer than ``KEEP_SECONDS`` ago."""
    kept = request.session.pop(PREFIX + key, None)
    if not isinstance(kept, dict) or time.time() - float(kept.get("at", 0)) > KEEP_SECONDS:
        return None
    return kept.get("value")


def see_other(to: Any, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
    """``redirect()`` with ``303 See Other``: the browser follows with a GET, and a reload
    of the page it lands on never sends the POST again."""
    response = HttpResponseRedirect(resolve_url(to, *args, **kwargs))
    response.status_code = 303
    return response
