"""The project board: columns are work-item states, a drop on another column fires the
transition that joins the two states (the same service and permission check as the work
item page), filters and swimlanes, and a work-in-progress limit per column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import django_filters
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from core.exceptions import IllegalTransition, ValidationFailed
from core.ids import parse_id
from itsm.services.common import record
from projects import permissions, selectors
from projects.models import WORK_TRANSITIONS, Kind, Project, WorkItem, WorkItemStatus

W = WorkItemStatus
# The columns, left to right. The last two are where work ends without shipping or after
# it: hidden unless asked for (``?done=1``), as Jira hides its done column's old cards.
WORK_COLUMNS = (W.OPEN, W.TRIAGED, W.IN_PROGRESS, W.IN_REVIEW, W.FIXED, W.RELEASED)
DONE_COLUMNS = (W.CLOSED, W.WONT_FIX)
BOARD_STATES = WORK_COLUMNS + DONE_COLUMNS
# A column shows its first cards (in backlog order) and says how many more there are: the
# page's cost does not grow with a 10 000-item project.
CARDS_PER_COLUMN = 50
DONE_CARDS = 20  # the closed and won't-fix columns are history: their latest few
LANES = {"": "None", "assignee": "Assignee", "kind": "Kind", "epic": "Epic"}


def _move_graph() -> dict[tuple[str, str], str]:
    """(from state, to state) → the transition a person fires for that move, read from the
    model's django-fsm graph, so the board can never offer a move the graph does not have.
    System transitions (``released``: going live does it) are not a person's move."""
    graph: dict[tuple[str, str], str] = {}
    for t in WorkItem._meta.get_field("status").get_all_transitions(WorkItem):  # type: ignore[attr-defined]
        if t.name not in WORK_TRANSITIONS or t.custom.get("system"):
            continue
        graph[(str(t.source), str(t.target))] = t.name
    return graph


MOVES = _move_graph()


def transition_for_move(item: WorkItem, to_state: str) -> str:
    """The transition a drop of ``item`` on column ``to_state`` fires; IllegalTransition
    (409) with the reason when no transition joins the two states."""
    labels = dict(W.choices)
    if to_state not in labels:
        raise ValidationFailed(f"No column '{to_state}'.", field="to")
    name = MOVES.get((item.status, to_state))
    if name is None:
        if item.status == W.FIXED and to_state == W.RELEASED:
            reason = "it is released when its release goes live"
        else:
            reason = "no transition leads there"
        raise IllegalTransition(
            f"{item.key} cannot move from {labels[item.status]} to {labels[to_state]}: {reason}."
        )
    return name


def move_needs_input(item: WorkItem, name: str, serializer: Any) -> bool:
    """A move opens its transition's form when the form has a required field (a reason,
    the original of a duplicate) or when fixing names no release yet (the item has no
    target release to default to)."""
    if any(f.required for f in serializer.fields.values()):
        return True
    return name == "fix" and item.target_release_id is None


# --- WIP limits ---------------------------------------------------------------------------
def board_set_wip_limits(
    *, project: Project, actor: AbstractBaseUser, limits: dict[str, Any]
) -> Project:
    """Set the board's WIP limits (a positive whole number per column; empty removes it).
    Who plans the project's iterations sets them (``can_plan_iterations``). Audited on the
    project; no other side effect."""
    from core.exceptions import ActionForbidden

    if not permissions.can_plan_iterations(actor, project):
        raise ActionForbidden("Only the project's manager or team lead sets WIP limits.")
    clean: dict[str, int] = {}
    for state, raw in limits.items():
        if state not in BOARD_STATES:
            raise ValidationFailed(f"No column '{state}'.", field=state)
        if raw in (None, "", 0, "0"):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValidationFailed("A WIP limit is a whole number.", field=state) from None
        if value < 1:
            raise ValidationFailed("A WIP limit is 1 or more.", field=state)
        clean[state] = value
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        before = project.wip_limits
        project.wip_limits = clean
        project.save(update_fields=["wip_limits"])
        record(
            project,
            actor,
            "wip_limits_set",
            changes={"wip_limits": (before, clean)},
            comment=", ".join(f"{dict(W.choices)[s]} {n}" for s, n in clean.items()) or "none",
        )
    return project


# --- filters ------------------------------------------------------------------------------
class BoardFilter(django_filters.FilterSet):
    """The board's filters: assignee, kind, release, iteration, open incidents, a label
    (by name) and a component (by id)."""

    assignee = django_filters.CharFilter(method="by_assignee")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    release = django_filters.CharFilter(method="by_release")
    iteration = django_filters.CharFilter(method="by_iteration")
    has_incidents = django_filters.BooleanFilter(method="by_incidents")
    label = django_filters.CharFilter(method="by_label")
    component = django_filters.CharFilter(method="by_component")

    class Meta:
        model = WorkItem
        fields: list[str] = []

    def by_assignee(self, qs: QuerySet[WorkItem], name: str, value: str) -> QuerySet[WorkItem]:
        if value == "none":
            return qs.filter(assignee__isnull=True)
        if value == "me":
            return qs.filter(assignee=self.request.user) if self.request else qs
        pk = parse_id(value)
        return qs.filter(assignee_id=pk) if pk else qs.none()

    def by_release(self, qs: QuerySet[WorkItem], name: str, value: str) -> QuerySet[WorkItem]:
        pk = parse_id(value)
        return qs.filter(target_release_id=pk) if pk else qs.none()

    def by_iteration(self, qs: QuerySet[WorkItem], name: str, value: str) -> QuerySet[WorkItem]:
        if value == "none":
            return qs.filter(iteration__isnull=True)
        if value == "active":
            return qs.filter(iteration__status="active")
        pk = parse_id(value)
        return qs.filter(iteration_id=pk) if pk else qs.none()

    def by_label(self, qs: QuerySet[WorkItem], name: str, value: str) -> QuerySet[WorkItem]:
        tagged = WorkItem.labels.through.objects.filter(label__name=value.strip().lower()).values(
            "workitem_id"
        )
        return qs.filter(pk__in=tagged)

    def by_component(self, qs: QuerySet[WorkItem], name: str, value: str) -> QuerySet[WorkItem]:
        pk = parse_id(value)
        if pk is None:
            return qs.none()
        part = WorkItem.components.through.objects.filter(component_id=pk).values("workitem_id")
        return qs.filter(pk__in=part)

    def by_incidents(self, qs: QuerySet[WorkItem], name: str, value: bool) -> QuerySet[WorkItem]:
        linked = selectors.items_with_open_incidents()
        return qs.filter(pk__in=linked) if value else qs.exclude(pk__in=linked)


# --- the board ----------------------------------------------------------------------------
@dataclass
class Column:
    state: str
    label: str
    cards: list[WorkItem]
    count: int  # every card in the column under the filters, not only those shown
    limit: int | None
    done: bool

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.count > self.limit

    @property
    def excess(self) -> int:
        return self.count - self.limit if self.limit is not None else 0

    @property
    def hidden_count(self) -> int:
        return max(self.count - len(self.cards), 0)


@dataclass
class Lane:
    key: str
    label: str
    cells: list[tuple[Column, list[WorkItem]]] = field(default_factory=list)


# What a card shows (templates/projects/_card.html), and nothing more: a board renders
# hundreds of cards, and the work item's description, its project, team, reporter and
# releases are not on them.
CARD_FIELDS = (
    "kind",
    "number",
    "project_id",
    "title",
    "priority",
    "status",
    "parent_id",
    "created_at",
    "updated_at",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "target_release__version",
    # django-fsm's ConcurrentTransitionMixin reads the state of every instance it makes
    "target_release__status",
)


def board(user: Any, project: Project, params: Any, request: Any = None) -> dict[str, Any]:
    """The board of ``project`` under the filters in ``params``: one query for the counts per
    column and one for every column's cards (with the backlog's incident annotations, and
    only the fields a card shows)."""
    show_done = params.get("done") in ("1", "true", "on")
    states = BOARD_STATES if show_done else WORK_COLUMNS
    base = (
        selectors.work_items(user)
        .filter(project=project)
        .select_related(None)
        .select_related("assignee", "target_release")
        .only(*CARD_FIELDS)
    )
    filterset = BoardFilter(params, queryset=base, request=request)
    qs = filterset.qs if filterset.is_valid() else base.none()
    # Counted and ranked on the bare rows (the same filters, without the annotations).
    column_qs = None
    if permissions.can_view(user):
        counted = BoardFilter(
            params, queryset=WorkItem.objects.filter(project=project), request=request
        )
        column_qs = counted.qs if counted.is_valid() else None
    counts = (
        dict(
            column_qs.filter(status__in=states)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        if column_qs is not None
        else {}
    )
    by_state = _column_cards(qs, column_qs, states)
    labels = dict(W.choices)
    columns = [
        Column(
            state,
            labels[state],
            by_state.get(state, []),
            counts.get(state, 0),
            project.wip_limits.get(state),
            state in DONE_COLUMNS,
        )
        for state in states
    ]
    lane_by = params.get("lanes", "")
    decorate_cards([c for col in columns for c in col.cards], epics=lane_by == "epic")
    return {
        "columns": columns,
        "lanes": _lanes(columns, lane_by) if lane_by in LANES and lane_by else [],
        "lane_by": lane_by if lane_by in LANES else "",
        "show_done": show_done,
        "filterset": filterset,
    }


def _column_cards(
    qs: QuerySet[WorkItem], column_qs: QuerySet[WorkItem] | None, states: tuple[str, ...]
) -> dict[str, list[WorkItem]]:
    """The cards each column shows, in one query for the whole board. A column of the
    work shows its first cards in backlog order, which puts every item with an open
    incident first and the others by priority: so those cards are among the column's
    first by priority (read off ``workitem_column_idx``) and its items with an open
    incident, and the incident aggregates are computed for those candidates only, not for
    every item of the column. The closed and won't-fix columns show their latest cards."""
    if column_qs is None:
        return {}
    work = [s for s in states if s not in DONE_COLUMNS]
    done = [s for s in states if s in DONE_COLUMNS]
    parts = [
        column_qs.filter(status__in=work, pk__in=selectors.items_with_open_incidents())
        .order_by()
        .values("pk")
    ]
    for state in work:
        first = column_qs.filter(status=state).order_by("priority", "-created_at", "-id")
        parts.append(first.values("pk")[:CARDS_PER_COLUMN])
    for state in done:
        latest = column_qs.filter(status=state).order_by("-updated_at", "-id")
        parts.append(latest.values("pk")[:DONE_CARDS])
    by_state: dict[str, list[WorkItem]] = {state: [] for state in states}
    for card in selectors.backlog_order(qs.filter(_any_of(parts))):
        by_state[card.status].append(card)
    for state in work:
        del by_state[state][CARDS_PER_COLUMN:]
    for state in done:
        by_state[state].sort(key=lambda c: (c.updated_at, c.pk), reverse=True)
    return by_state


def _any_of(parts: list[QuerySet[Any]]) -> Q:
    """Rows whose pk is in any of ``parts`` (each a ``values("pk")`` query, some sliced).
    PostgreSQL takes them as one UNION ALL, which it joins to the rows; an OR of ``IN``
    subqueries would be checked against every row of the project (12 ms at 10 000 items).
    SQLite cannot slice the parts of a compound query, so there they stay an OR."""
    if connection.features.supports_slicing_ordering_in_compound:
        return Q(pk__in=parts[0].union(*parts[1:], all=True))
    any_of = Q()
    for part in parts:
        any_of |= Q(pk__in=part)
    return any_of


def decorate_cards(cards: list[WorkItem], *, epics: bool = False) -> None:
    """Each card's label names and the open items that block it: two queries for all the
    cards of the board; with ``epics``, each card's epic (its top-most ancestor) in one
    more (not joined into the column queries, whose GROUP BY it would widen)."""
    from projects.structure import labels_by_item, open_blocker_keys

    names, blockers = labels_by_item(cards), open_blocker_keys(cards)
    # One reverse() for the board, not one per card (hundreds of them).
    move_url = reverse("projects:work_move", args=["KEY"])
    parents: dict[int, WorkItem] = {}
    if epics:
        parent_ids = {c.parent_id for c in cards if c.parent_id}
        if parent_ids:
            parents = {
                p.pk: p for p in WorkItem.objects.filter(pk__in=parent_ids).select_related("parent")
            }
    for card in cards:
        card.move_url = move_url.replace("KEY", card.key)  # type: ignore[attr-defined]
        card.label_names = names.get(card.pk, [])  # type: ignore[attr-defined]
        card.blocked_by = blockers.get(card.pk, [])  # type: ignore[attr-defined]
        parent = parents.get(card.parent_id) if card.parent_id else None
        # three levels at most: the parent's parent, if any, is the top
        card.epic = parent.parent if parent and parent.parent_id else parent  # type: ignore[attr-defined]


def epic_of(card: WorkItem) -> WorkItem | None:
    """The card's top-most ancestor (its epic), as ``decorate_cards`` found it."""
    return getattr(card, "epic", None)


def _lane_of(card: WorkItem, by: str) -> tuple[str, str]:
    """The swimlane a card goes in: its key and label; the key "" is the catch-all lane
    (no epic, unassigned)."""
    if by == "epic":
        epic = epic_of(card)
        return (str(epic.pk), f"{epic.key} {epic.title}") if epic else ("", "No epic")
    if by == "assignee":
        if card.assignee is None:
            return "", "Unassigned"
        return str(card.assignee_id), card.assignee.get_full_name() or card.assignee.username
    return card.kind, card.get_kind_display()


def _lanes(columns: list[Column], by: str) -> list[Lane]:
    # One pass: each card put in its lane once (not each lane scanning every card: 200
    # epics × 300 cards was most of an epic board's time).
    lanes: dict[str, Lane] = {}
    cells: dict[tuple[str, str], list[WorkItem]] = {}
    for col in columns:
        for card in col.cards:
            key, label = _lane_of(card, by)
            lanes.setdefault(key, Lane(key, label))
            cells.setdefault((key, col.state), []).append(card)
    for lane in lanes.values():
        for col in columns:
            lane.cells.append((col, cells.get((lane.key, col.state), [])))
    # Unassigned (no epic) last, the others by name
    return sorted(lanes.values(), key=lambda lane: (lane.key == "", lane.label.lower()))
