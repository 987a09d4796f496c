"""The API's JSON parser: DRF's, with the limits every view can rely on.

- Nesting deeper than ``MAX_DEPTH`` is a 400 (Python's decoder raised ``RecursionError``
  at about a thousand levels, a 500; far less is already no input of ours).
- The body is a JSON object. ``null``, a string, a number or a boolean is a 400 here, once,
  so no view meets ``request.data.get`` on something that is not a dict; a list is a 400
  too unless the view says it takes one (``accepts_json_list = True``: the notification
  preferences' PUT).
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def _too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``data`` nests lists/objects more than ``limit`` levels (iterative: a
    recursive walk would fail the way the decoder did)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        if _too_deep(data):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        view = (parser_context or {}).get("view")
        if isinstance(data, list) and getattr(view, "accepts_json_list", False):
            return data
        if not isinstance(data, dict):
            kind = "a list" if isinstance(data, list) else f"'{str(data)[:20]}'"
            raise ParseError(f"The body must be a JSON object ({{...}}), not {kind}.")
        return data
