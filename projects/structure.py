"""Reading a work item's structure for its page: the breadcrumb of its parents, its
children with their progress, its links both ways and the open items that block it. A
fixed number of queries whatever the number of children, links or labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from projects.models import (
    WORK_DONE_STATES,
    WORK_OPEN_STATES,
    WorkItem,
    WorkItemLink,
    WorkItemLinkKind,
)


@dataclass
class LinkRow:
    link: WorkItemLink
    verb: str
    other: WorkItem


@dataclass
class Structure:
    ancestors: list[WorkItem]  # the top-most first
    children: list[WorkItem]
    links: list[LinkRow]
    open_blockers: list[WorkItem]
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)

    @property
    def parent(self) -> WorkItem | None:
        return self.ancestors[-1] if self.ancestors else None

    @property
    def done_count(self) -> int:
        return sum(1 for c in self.children if c.status in WORK_DONE_STATES)

    @property
    def estimate_total(self) -> Decimal:
        return sum((c.estimate_hours or Decimal(0) for c in self.children), Decimal(0))

    @property
    def estimate_done(self) -> Decimal:
        return sum(
            (c.estimate_hours or Decimal(0) for c in self.children if c.status in WORK_DONE_STATES),
            Decimal(0),
        )

    @property
    def percent_done(self) -> int:
        """Done share by estimate when the children are estimated, else by count."""
        if self.estimate_total:
            return int(self.estimate_done * 100 / self.estimate_total)
        return int(self.done_count * 100 / len(self.children)) if self.children else 0


def ancestors_of(item: WorkItem) -> list[WorkItem]:
    """The parents up to the top (an epic), the top-most first: one query (the tree is
    three levels deep)."""
    if not item.parent_id:
        return []
    parent = (
        WorkItem.objects.select_related("parent")
        .only(
            "id",
            "kind",
            "number",
            "title",
            "status",
            "parent_id",
            "parent__id",
            "parent__kind",
            "parent__number",
            "parent__title",
            "parent__status",
        )
        .get(pk=item.parent_id)
    )
    chain = [parent]
    if parent.parent_id and parent.parent is not None:
        chain.insert(0, parent.parent)
    return chain


def item_structure(item: WorkItem) -> Structure:
    """Everything the page's structure panels show, in five queries."""
    children = list(
        WorkItem.objects.filter(parent=item)
        .select_related("assignee")
        .order_by("status", "priority", "id")
    )
    rows: list[LinkRow] = []
    links = WorkItemLink.objects.select_related("source__project", "target__project").filter(
        source=item
    ) | WorkItemLink.objects.select_related("source__project", "target__project").filter(
        target=item
    )
    for link in links.order_by("created_at", "id"):
        verb, other = link.phrase_for(item)
        rows.append(LinkRow(link, verb, other))
    blockers = [
        r.other
        for r in rows
        if r.link.kind == WorkItemLinkKind.BLOCKS
        and r.link.target_id == item.pk
        and r.other.status in WORK_OPEN_STATES
    ]
    return Structure(
        ancestors=ancestors_of(item),
        children=children,
        links=rows,
        open_blockers=blockers,
        labels=list(item.labels.values_list("name", flat=True)),
        components=list(item.components.values_list("name", flat=True)),
    )


def open_blocker_keys(items: list[Any]) -> dict[int, list[str]]:
    """For each of ``items`` (by id), the keys of the open items that block it: one query
    (the board's marker)."""
    out: dict[int, list[str]] = {}
    if not items:
        return out
    rows = WorkItemLink.objects.filter(
        kind=WorkItemLinkKind.BLOCKS,
        target__in=[i.pk for i in items],
        source__status__in=WORK_OPEN_STATES,
    ).values_list("target_id", "source__kind", "source__number")
    for target_id, kind, number in rows.order_by("created_at", "id"):
        out.setdefault(target_id, []).append(f"{WorkItem.PREFIXES[kind]}-{number}")
    return out


def labels_by_item(items: list[Any]) -> dict[int, list[str]]:
    """Each item's label names (by id): one query for all of them (the board's cards)."""
    out: dict[int, list[str]] = {}
    if not items:
        return out
    rows = WorkItem.labels.through.objects.filter(
        workitem_id__in=[i.pk for i in items]
    ).values_list("workitem_id", "label__name")
    for item_id, name in rows.order_by("label__name"):
        out.setdefault(item_id, []).append(name)
    return out
