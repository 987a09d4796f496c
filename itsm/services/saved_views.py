"""Saved desk views: create, change, remove. One transaction and one audit row each.

A view's query is the desk's GET parameters (queue, filters, ordering); it is checked
against ``IncidentFilter`` when saved, so a stored view always opens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import QueryDict

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Team
from core.roles import is_staff_member
from core.services import audit_record
from core.validation import ensure_lengths
from itsm.filters import IncidentFilter
from itsm.models import DESK_COLUMNS, SavedView
from itsm.permissions import can_edit_saved_view, can_share_with_team
from itsm.services.common import diff, ensure_editable, snapshot

# Enough for any real desk; it keeps the sidebar (one count per view) bounded.
MAX_VIEWS_PER_OWNER = 50
MAX_QUERY_CHARS = 2000
# Desk parameters that are not part of a view: where you are in it, not what it is.
TRANSIENT_PARAMS = ("page", "view", "poll", "cols", "csrfmiddlewaretoken")
COLUMN_KEYS = [key for key, _ in DESK_COLUMNS]


def _as_lists(query: Mapping[str, Any] | QueryDict) -> dict[str, list[str]]:
    if isinstance(query, QueryDict):
        pairs = query.lists()
    elif isinstance(query, Mapping):
        pairs = query.items()
    else:
        raise ValidationFailed("The query is a set of desk parameters.", field="query")
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise ValidationFailed(f"'{key}' takes text or numbers.", field="query")
        kept = [str(v) for v in values if str(v) != ""]
        if key not in TRANSIENT_PARAMS and kept:
            out[str(key)] = kept
    return out


def clean_queue(value: str) -> str:
    """A queue the desk knows: mine, unassigned, all or team-<id> of an existing team."""
    if value in ("mine", "unassigned", "all"):
        return value
    team_id = value.removeprefix("team-")
    if value.startswith("team-") and team_id.isdigit() and Team.objects.filter(pk=team_id).exists():
        return value
    raise ValidationFailed(
        f"No queue '{value}': use mine, unassigned, all or team-<id>.", field="query"
    )


def clean_query(query: Mapping[str, Any] | QueryDict) -> dict[str, list[str]]:
    """The desk parameters of a view, checked: known names only, values the desk's filter
    accepts (400 naming each bad one)."""
    data = _as_lists(query)
    known = set(IncidentFilter.base_filters) | {"queue"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationFailed(
            f"Unknown desk parameters: {', '.join(unknown)}.",
            errors={"query": [f"Unknown parameter: {name}." for name in unknown]},
        )
    encoded = _encode(data)
    if len(encoded) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    if "queue" in data:
        data["queue"] = [clean_queue(data["queue"][-1])]
    form = IncidentFilter(QueryDict(encoded)).form
    if not form.is_valid():
        errors = {f"query.{name}": list(msgs) for name, msgs in form.errors.items()}
        first = next(iter(form.errors.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", errors=errors)
    return data


def _encode(data: Mapping[str, list[str]]) -> str:
    qd = QueryDict(mutable=True)
    for key, values in data.items():
        qd.setlist(key, values)
    return qd.urlencode()


def view_querystring(view: SavedView) -> str:
    """The view as a desk URL's query string (without the view's own marker)."""
    return _encode(view.query)


def clean_columns(columns: Iterable[Any] | None) -> list[str]:
    """Known column keys, in the desk's order; none means the default set."""
    if columns is None:
        return []
    if isinstance(columns, str):
        columns = [c for c in columns.split(",") if c]
    chosen = list(columns)
    unknown = [c for c in chosen if c not in COLUMN_KEYS]
    if unknown:
        raise ValidationFailed(
            f"Unknown columns: {', '.join(map(str, unknown))}. "
            f"Choose from {', '.join(COLUMN_KEYS)}.",
            field="columns",
        )
    return [c for c in COLUMN_KEYS if c in chosen]


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("A view needs a name.", field="name")
    name = name.strip()
    ensure_lengths(SavedView, {"name": name})
    return name


def _ensure_name_free(owner: Any, name: str, exclude: int | None = None) -> None:
    clash = SavedView.objects.filter(owner=owner, name__iexact=name)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationFailed(f"You already have a view named '{name}'.", field="name")


def _ensure_team(actor: AbstractBaseUser, team: Team | None) -> None:
    if team is not None and not can_share_with_team(actor, team.pk):
        raise ActionForbidden(
            f"You can share a view only with a team you work in ({team.name} is not one).",
            field="team",
        )


def saved_view_create(
    *,
    actor: AbstractBaseUser,
    name: str,
    query: Mapping[str, Any] | QueryDict,
    columns: Iterable[str] | None = None,
    team: Team | None = None,
) -> SavedView:
    """Save a desk view for ``actor`` (staff only), personal or shared with ``team`` (one
    the actor works in, or any for an Administrator). Names are unique per owner; the query
    must be one the desk accepts (400). Audit: ``created`` on the view."""
    if not is_staff_member(actor):
        raise ActionForbidden("Only desk staff save desk views.")
    name = _clean_name(name)
    data = clean_query(query)
    cols = clean_columns(columns)
    _ensure_team(actor, team)
    with transaction.atomic():
        if SavedView.objects.filter(owner=actor).count() >= MAX_VIEWS_PER_OWNER:
            raise ValidationFailed(
                f"You have {MAX_VIEWS_PER_OWNER} views already: remove one first.", field="name"
            )
        _ensure_name_free(actor, name)
        view = SavedView.objects.create(owner=actor, name=name, team=team, query=data, columns=cols)
        audit_record(
            target=view,
            actor=actor,
            action="created",
            changes={f: (None, getattr(view, f)) for f in SavedView.AUDITED_FIELDS},
        )
    return view


def saved_view_update(*, view: SavedView, actor: AbstractBaseUser, **fields: Any) -> SavedView:
    """Rename, re-share, re-filter or re-column a view (``can_edit_saved_view``: the owner;
    a team-shared view also an Administrator). Any other field is a 400. Audit:
    ``updated`` on the view with the field changes (nothing when nothing changed)."""
    ensure_editable(fields, ("name", "team", "query", "columns"))
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    if "query" in fields:
        fields["query"] = clean_query(fields["query"])
    if "columns" in fields:
        fields["columns"] = clean_columns(fields["columns"])
    with transaction.atomic():
        row = SavedView.objects.select_for_update().get(pk=view.pk)
        if not can_edit_saved_view(actor, row):
            raise ActionForbidden("Only the view's owner (or an Administrator, when it is shared).")
        if "team" in fields and fields["team"] != row.team:
            _ensure_team(actor, fields["team"])
        if "name" in fields:
            _ensure_name_free(row.owner_id, fields["name"], exclude=row.pk)
        before = snapshot(row)
        for key, value in fields.items():
            setattr(row, key, value)
        row.save()
        changes = diff(row, before)
        if changes:
            audit_record(target=row, actor=actor, action="updated", changes=changes)
    return row


def saved_view_delete(*, view: SavedView, actor: AbstractBaseUser) -> None:
    """Remove a view (same rule as changing it). Audit: ``deleted`` on the view, written
    before the row goes so that it names the view."""
    with transaction.atomic():
        row = SavedView.objects.select_for_update().get(pk=view.pk)
        if not can_edit_saved_view(actor, row):
            raise ActionForbidden("Only the view's owner (or an Administrator, when it is shared).")
        audit_record(target=row, actor=actor, action="deleted", comment=row.name)
        row.delete()
