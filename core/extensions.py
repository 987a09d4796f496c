"""Extension points, so a higher app can add to a lower app's pages and API resources
without the lower app importing it (``projects`` shows an incident's defect on the
incident page and in the incident resource).

A higher app registers in its ``AppConfig.ready()``; the lower app asks for what is
registered under a name it owns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """A block on a detail page: ``context(request, obj)`` returns the template's context,
    or None to show nothing."""

    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]
    order: int = 100


_panels: dict[str, list[Panel]] = defaultdict(list)
_fields: dict[str, dict[str, Callable[[Any], Any]]] = defaultdict(dict)
_public_fields: dict[str, dict[str, Callable[[Any], Any]]] = defaultdict(dict)
_prefetches: dict[str, list[Any]] = defaultdict(list)
_schemas: dict[str, dict[str, Callable[[], Any]]] = defaultdict(dict)


def register_panel(page: str, panel: Panel) -> None:
    if panel not in _panels[page]:
        _panels[page].append(panel)
        _panels[page].sort(key=lambda p: p.order)


def panels_for(page: str, request: Any, obj: Any) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for panel in _panels[page]:
        context = panel.context(request, obj)
        if context is not None:
            out.append((panel.template, context))
    return out


def register_field(
    resource: str,
    name: str,
    value: Callable[[Any], Any],
    *,
    public: Callable[[Any], Any] | None = None,
    schema: Callable[[], Any] | None = None,
) -> None:
    """An extra read-only field on an API resource, computed from the object. ``public``
    computes what a reader who may not see linked internal records gets (see
    ``core.visibility.Parts.linked_records``); without it they get null. ``schema``
    returns a DRF serializer (field) describing it: a resource whose serializer declares
    ``extension_fields(resource)`` then documents it in the OpenAPI schema."""
    _fields[resource][name] = value
    _public_fields[resource][name] = public or (lambda obj: None)
    if schema is not None:
        _schemas[resource][name] = schema


def fields_for(resource: str, obj: Any, *, linked_records: bool = True) -> dict[str, Any]:
    chosen = _fields[resource] if linked_records else _public_fields[resource]
    return {name: value(obj) for name, value in chosen.items()}


def register_prefetch(resource: str, lookup: Any) -> None:
    """A prefetch the resource's list must apply so an extra field costs no query per
    row (a ``Prefetch`` or a relation name)."""
    if lookup not in _prefetches[resource]:
        _prefetches[resource].append(lookup)


def prefetches_for(resource: str) -> list[Any]:
    return list(_prefetches[resource])


def extension_fields(resource: str) -> dict[str, Any]:
    """Read-only serializer fields for the extra fields registered with a ``schema``: they
    compute the full value (the serializer swaps in the public one for readers who may
    not see linked records) and carry the schema for drf-spectacular."""
    from drf_spectacular.drainage import set_override
    from rest_framework import serializers

    class ExtensionField(serializers.Field):
        def __init__(self, value: Callable[[Any], Any], **kwargs: Any) -> None:
            self.value = value
            super().__init__(source="*", read_only=True, **kwargs)

        def to_representation(self, obj: Any) -> Any:
            return self.value(obj)

    out = {}
    for name, schema in _schemas[resource].items():
        field = ExtensionField(_fields[resource][name])
        set_override(field, "field", schema())
        out[name] = field
    return out


# --- queues and who works a record --------------------------------------------------------
_team_queues: dict[str, list[Callable[[int], Any]]] = defaultdict(list)
_work_grants: dict[str, list[Callable[[Any, Any], bool]]] = defaultdict(list)


def register_team_queue(resource: str, members: Callable[[int], Any]) -> None:
    """More records in a team's queue than those the team holds: ``members(team_id)``
    returns a ``Q`` (projects: incidents routed to a release's team in its hypercare)."""
    if members not in _team_queues[resource]:
        _team_queues[resource].append(members)


def team_queue_q(resource: str, team_id: int) -> Any:
    """The ``Q`` for the extra records of ``team_id``'s queue (matches none without any)."""
    from django.db.models import Q

    q = Q(pk__in=[])
    for members in _team_queues[resource]:
        q |= members(team_id)
    return q


def register_work_grant(resource: str, grant: Callable[[Any, Any], bool]) -> None:
    """Another reason a user may work a record: ``grant(user, record)``. Asked only after
    the owning app's own rules said no, so it can only widen the rule for the records the
    higher app routes (the team queues above)."""
    if grant not in _work_grants[resource]:
        _work_grants[resource].append(grant)


def work_granted(resource: str, user: Any, record: Any) -> bool:
    return any(grant(user, record) for grant in _work_grants[resource])
