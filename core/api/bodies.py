"""Reading a request body beside its input serializer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from core.exceptions import ValidationFailed

# The keyword arguments the views pass to services themselves (the record, who acts): a
# body naming one would collide with them in the call ("got multiple values for keyword
# argument 'actor'", a 500), so it is refused as a field that cannot be written.
RESERVED = frozenset({"actor", "view", "reply", "project", "component", "release", "item"})


def with_unknown(request: Request, body: serializers.Serializer) -> dict[str, Any]:
    """The validated fields plus any field the body named that the input serializer does
    not take, so the service refuses them with a 400 naming them instead of their being
    silently dropped (``ensure_editable``)."""
    data = dict(body.validated_data)
    unknown = set(request.data) - set(body.fields)
    clash = sorted(unknown & RESERVED)
    if clash:
        raise ValidationFailed(
            f"These fields cannot be edited: {', '.join(clash)}.",
            errors={f: ["This field cannot be edited."] for f in clash},
        )
    for name in unknown:
        data[name] = request.data[name]
    return data
