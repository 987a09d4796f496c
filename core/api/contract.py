"""The HTTP contract every API view keeps, in one mixin: versions and retries.

- ``ETag``: a response whose body is one record (a detail, a create, a transition's
  answer) carries the record's version (``core.concurrency``). ``GET`` with a matching
  ``If-None-Match`` answers 304.
- ``If-Match`` on ``PATCH``/``PUT``/``DELETE`` and on a detail ``POST`` (transitions and
  the record's other actions): the record is locked and its version compared inside the
  same transaction as the action, before it; a changed record answers 412 and nothing runs.
  Without ``If-Match`` nothing changes.
- ``Idempotency-Key`` on any ``POST`` (creates, transitions, actions): see
  ``core.idempotency``. It wraps the ``If-Match`` check, so a retried transition replays
  its first answer rather than failing on the version it itself moved.

``ApiContractMixin`` is the first base of every API view (a test walks the URLconf).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import ListSerializer

from core import idempotency
from core.concurrency import current_version, ensure_version, has_stamp, version_of

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def parse_etags(header: str) -> list[str]:
    """``"a", W/"b"`` → ``["a", "W/b"]`` (a weak tag never matches If-Match's strong
    comparison); ``*`` stays ``*``."""
    tags = []
    for part in header.split(","):
        part = part.strip()
        if not part:
            continue
        weak = part.startswith("W/")
        value = part[2:] if weak else part
        value = value.strip('"')
        tags.append(f"W/{value}" if weak else value)
    return tags


def quoted(version: str) -> str:
    return f'"{version}"'


def response_record(response: Any) -> models.Model | None:
    """The record a response's body is, when it is one (a serializer of one instance)."""
    serializer = getattr(getattr(response, "data", None), "serializer", None)
    if serializer is None or isinstance(serializer, ListSerializer):
        return None
    instance = getattr(serializer, "instance", None)
    return instance if isinstance(instance, models.Model) and instance.pk is not None else None


def response_etag(request: Request, response: Any) -> str | None:
    record = response_record(response)
    if record is None:
        return None
    # A stamped record (updated_at) is read from the instance the body shows: the services
    # set the stamp on what they save and answer, and a stale one would only cost the
    # client a 412, never a silent overwrite. An unstamped one is read again after a
    # write (its digest covers every column the service may have written apart).
    model = record.__class__  # not type(): request.user (/users/me/) is a lazy proxy
    if request.method in UNSAFE and not has_stamp(model):
        version = current_version(model, record.pk)
    else:
        version = version_of(record)
    return quoted(version) if version else None


SHOWN_ONCE = "(shown once, not kept: create or rotate it again for a new one)"


class ApiContractMixin:
    """ETag, If-Match, If-None-Match and Idempotency-Key for a DRF view (module doc).

    ``shown_once_fields`` names the answer's fields that carry a secret shown once (a
    personal token, a webhook's signing secret): the answer an ``Idempotency-Key`` keeps
    for its replay (a day, in plain JSON) holds a placeholder instead of the secret."""

    shown_once_fields: tuple[str, ...] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = request.method or ""
        name = method.lower()
        handler = getattr(self, name, None)
        if handler is None or name not in self.http_method_names:  # type: ignore[attr-defined]
            return
        wrapped = handler
        if_match = request.headers.get("If-Match")
        if method in UNSAFE and if_match and self._is_detail():
            wrapped = self._guarded(wrapped, parse_etags(if_match))
        key = request.headers.get(idempotency.HEADER)
        if method == "POST" and key is not None and request.user.is_authenticated:
            wrapped = self._idempotent(wrapped, request, idempotency.check_key(key))
        if wrapped is not handler:
            setattr(self, name, wrapped)

    def _is_detail(self) -> bool:
        lookup = getattr(self, "lookup_url_kwarg", None) or getattr(self, "lookup_field", None)
        return bool(lookup) and lookup in self.kwargs  # type: ignore[attr-defined]

    def _guarded(self, handler: Callable[..., Any], expected: list[str]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with transaction.atomic():
                record = self.get_object()  # type: ignore[attr-defined]
                ensure_version(record, expected, user=self.request.user)  # type: ignore[attr-defined]
                return handler(*args, **kwargs)

        return guarded

    def _idempotent(
        self, handler: Callable[..., Any], request: Request, key: str
    ) -> Callable[..., Any]:
        def keep(response: Any) -> tuple[int, Any, dict[str, str]] | None:
            if not isinstance(response, Response) or not 200 <= response.status_code < 300:
                return None
            tag = response_etag(request, response)
            if tag:
                response["ETag"] = tag
            body = (
                None if response.data is None else json.loads(JSONRenderer().render(response.data))
            )
            if isinstance(body, dict):
                body.update({f: SHOWN_ONCE for f in self.shown_once_fields if f in body})
            headers = {h: response[h] for h in idempotency.KEPT_HEADERS if response.has_header(h)}
            return response.status_code, body, headers

        def replay(row: Any) -> Response:
            headers = {**row.response_headers, idempotency.REPLAYED_HEADER: "true"}
            return Response(row.response_body, status=row.response_status, headers=headers)

        def idempotent(*args: Any, **kwargs: Any) -> Any:
            row = idempotency.claim(
                user=request.user,
                key=key,
                method=request.method or "POST",
                path=request.path,
                digest=idempotency.body_digest(request.data),
            )
            return idempotency.run_once(
                row, lambda: handler(*args, **kwargs), replay=replay, keep=keep
            )

        return idempotent

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if (
            isinstance(response, Response)
            and 200 <= response.status_code < 300
            and not response.has_header("ETag")
        ):
            tag = response_etag(request, response)
            if tag:
                response["ETag"] = tag
                if request.method in ("GET", "HEAD") and _none_match(request, tag):
                    response.status_code = 304
                    response.data = None
        return response


def _none_match(request: Request, tag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    # weak comparison (RFC 9110 13.1.2): W/"x" matches "x"
    tags = {t[2:] if t.startswith("W/") else t for t in parse_etags(header)}
    return "*" in tags or tag.strip('"') in tags
