"""Reads every ticket type shares: its audit trail, its comments, its timeline, and
finding it by id or key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from core.exceptions import NotFound, ValidationFailed
from core.ids import parse_id
from core.models import AuditEvent, Comment, Team


def history_of(target: models.Model) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(target), object_id=target.pk
    ).select_related("actor")


def comments_of(target: models.Model, *, internal: bool) -> QuerySet[Comment]:
    """Public replies, and internal work notes too when ``internal``."""
    qs = Comment.objects.filter(
        content_type=ContentType.objects.get_for_model(target), object_id=target.pk
    ).select_related("author")
    return qs if internal else qs.filter(public=True)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "audit" or "comment"
    item: AuditEvent | Comment


def timeline_of(target: models.Model, *, internal: bool) -> list[TimelineEntry]:
    """Audit trail and comments in one list, oldest first."""
    entries = [TimelineEntry(e.created_at, "audit", e) for e in history_of(target)]
    entries += [
        TimelineEntry(c.created_at, "comment", c) for c in comments_of(target, internal=internal)
    ]
    return sorted(entries, key=lambda e: (e.at, 0 if e.kind == "audit" else 1))


def get_by_ref(qs: QuerySet[Any], prefix: str, ref: str | int, noun: str) -> Any:
    """A ticket by id or by key (``PRB-12``) within ``qs`` (what the user may see); 404
    when it does not exist or is not visible."""
    ref = str(ref).strip()
    if ref.upper().startswith(f"{prefix}-"):
        lookup: dict[str, Any] = {"number": parse_id(ref[len(prefix) + 1 :])}
    else:
        lookup = {"pk": parse_id(ref)}
    if None in lookup.values():
        raise NotFound(f"No {noun} {ref}.")
    found = qs.filter(**lookup).first()
    if found is None:
        raise NotFound(f"No {noun} {ref}.")
    return found


def team_ref(value: Any, field: str = "team") -> Team | None:
    """The team a form or an API body names by id; None when it names none; 400 naming
    the value when no team has that id (or it is no id at all)."""
    if value is None or value == "":
        return None
    pk = parse_id(str(value))
    team = Team.objects.filter(pk=pk).first() if pk is not None else None
    if team is None:
        raise ValidationFailed(f"No team {value}.", field=field)
    return team


def team_people(team_ids: Iterable[int] | None = None) -> list[tuple[int, int, str]]:
    """(team id, user id, the name they go by) of every active member of the teams (all
    teams without ``team_ids``), in name order: one query of plain values, for the forms
    and filters that list people (an incident's *Assign* lists some three hundred; a User
    built for each cost a tenth of the page)."""
    rows = Team.members.through.objects.filter(user__is_active=True)
    if team_ids is not None:
        rows = rows.filter(team_id__in=list(team_ids))
    rows = rows.order_by("user__first_name", "user__last_name", "user__username", "user_id")
    return [
        # as User.get_full_name, falling back to the login name (core.apps)
        (team_id, user_id, f"{first} {last}".strip() or username)
        for team_id, user_id, first, last, username in rows.values_list(
            "team_id", "user_id", "user__first_name", "user__last_name", "user__username"
        )
    ]


def team_members(
    team_ids: Iterable[int] | None = None,
    people: Iterable[tuple[int, int, str]] | None = None,
) -> dict[int, list[tuple[int, str]]]:
    """``team_people`` by team: ``{team id: [(user id, name)]}``, each in name order (from
    ``people`` when the caller read them already)."""
    members: dict[int, list[tuple[int, str]]] = {}
    for team_id, user_id, name in team_people(team_ids) if people is None else people:
        members.setdefault(team_id, []).append((user_id, name))
    return members
