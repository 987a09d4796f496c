"""The structure around a work item: its labels and components, its parent (an epic or a
story with sub-tasks) and its links to other work items (blocks, relates, duplicates).
Components are the project's list, kept by the Project Manager and the team lead."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.exceptions import ActionForbidden, ConflictError, ValidationFailed
from core.validation import ensure_lengths
from itsm.services.common import lock, record, require
from projects import permissions
from projects.models import (
    Component,
    Label,
    Project,
    WorkItem,
    WorkItemLink,
    WorkItemLinkKind,
)

# The activity stream's words for the actions audited here (registered in projects.apps,
# as core.templatetags.tandem keeps the shared phrases).
ACTION_WORDS = {
    "item_linked": "linked a work item",
    "item_unlinked": "unlinked a work item",
    "component_added": "added a component",
    "component_changed": "changed a component",
    "component_removed": "removed a component",
}

# --- labels -------------------------------------------------------------------------------


def label_normalise(name: str) -> str:
    """A label as stored: trimmed, lowercase, runs of spaces as one hyphen. 400 when it is
    empty, has a comma or is longer than ``Label.MAX_LENGTH``."""
    clean = re.sub(r"\s+", "-", str(name).strip().lower())
    if not clean:
        raise ValidationFailed("A label cannot be empty.", field="labels")
    if "," in clean:  # the page separates labels with commas
        raise ValidationFailed(f"A label has no commas: '{clean}'.", field="labels")
    if len(clean) > Label.MAX_LENGTH:
        raise ValidationFailed(
            f"A label is at most {Label.MAX_LENGTH} characters: '{clean}'.", field="labels"
        )
    return clean


def _too_many_labels(count: int) -> str:
    return f"A work item has at most {Label.MAX_PER_ITEM} labels (this has {count})."


def labels_for(project: Project, names: Iterable[str]) -> list[Label]:
    """The project's labels of these names, created on first use (call inside the writing
    transaction). Duplicates after normalising count once; at most ``Label.MAX_PER_ITEM``
    (400 naming the field)."""
    names = list(names)
    if len(names) > Label.MAX_PER_ITEM * 5:  # never normalise thousands of names
        raise ValidationFailed(_too_many_labels(len(names)), field="labels")
    wanted = sorted({label_normalise(n) for n in names})
    if len(wanted) > Label.MAX_PER_ITEM:
        raise ValidationFailed(_too_many_labels(len(wanted)), field="labels")
    if not wanted:
        return []
    found = {lb.name: lb for lb in Label.objects.filter(project=project, name__in=wanted)}
    for name in wanted:
        if name not in found:
            found[name], _ = Label.objects.get_or_create(project=project, name=name)
    return [found[n] for n in wanted]


def components_for(project: Project, names: Iterable[str]) -> list[Component]:
    """The project's components of these names; 400 naming any the project does not
    keep (components are a list, never created by typing them)."""
    wanted = sorted({str(n).strip() for n in names if str(n).strip()})
    found = {c.name: c for c in Component.objects.filter(project=project, name__in=wanted)}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ValidationFailed(
            f"{project.code} has no component {', '.join(repr(n) for n in unknown)}.",
            field="components",
        )
    return [found[n] for n in wanted]


# --- parent / children --------------------------------------------------------------------


def _depth_below(item: WorkItem) -> int:
    """How many levels hang under ``item`` (0: no children). Two queries at most, as the
    tree is three levels deep."""
    children = list(WorkItem.objects.filter(parent=item).values_list("pk", flat=True))
    if not children:
        return 0
    if WorkItem.objects.filter(parent__in=children).exists():
        return 2
    return 1


def parent_check(item: WorkItem | None, parent: WorkItem | None, project: Project) -> None:
    """400 unless ``parent`` may hold ``item`` (None: a new item): same project, not the
    item itself nor one of its descendants, and the tree at most ``WorkItem.MAX_DEPTH``
    levels deep (epic → story → sub-task)."""
    if parent is None:
        return
    if parent.project_id != project.pk:
        raise ValidationFailed(
            f"{parent.key} is in {parent.project}: a parent is in the same project.",
            field="parent",
        )
    ancestors: list[WorkItem] = []
    node: WorkItem | None = parent
    while node is not None and len(ancestors) <= WorkItem.MAX_DEPTH:
        ancestors.append(node)
        node = WorkItem.objects.filter(pk=node.parent_id).first() if node.parent_id else None
    if item is not None and any(a.pk == item.pk for a in ancestors):
        raise ValidationFailed(
            f"{parent.key} is {item.key} or one of its sub-items: that would be a cycle.",
            field="parent",
        )
    below = _depth_below(item) if item is not None and item.pk else 0
    if len(ancestors) + 1 + below > WorkItem.MAX_DEPTH:
        raise ValidationFailed(
            f"Under {parent.key} the tree would be deeper than {WorkItem.MAX_DEPTH} levels "
            "(epic → story → sub-task).",
            field="parent",
        )


def apply_structure(
    item: WorkItem, *, labels: Iterable[str] | None, components: Iterable[str] | None
) -> dict[str, tuple[Any, Any]]:
    """Set the item's labels and components (None: leave them) inside the caller's
    transaction; returns the audit changes as (old names, new names)."""
    changes: dict[str, tuple[Any, Any]] = {}
    for name, wanted, resolve in (
        ("labels", labels, labels_for),
        ("components", components, components_for),
    ):
        if wanted is None:
            continue
        rows = resolve(item.project, wanted)
        manager = getattr(item, name)
        before = sorted(manager.values_list("name", flat=True))
        after = sorted(r.name for r in rows)
        if before != after:
            manager.set(rows)
            changes[name] = (before, after)
    return changes


# --- assignee -----------------------------------------------------------------------------


def assignable_users(project: Project) -> Any:
    """Who a work item of ``project`` may be assigned to: the active members of its
    development team and its project manager. The page offers exactly these."""
    from django.db.models import Q

    q = Q(tandem_teams=project.team_id)
    if project.project_manager_id:
        q |= Q(pk=project.project_manager_id)
    return get_user_model().objects.filter(q, is_active=True).distinct().order_by("username")


def assignee_check(project: Project, assignee: Any, current_id: int | None = None) -> None:
    """400 unless ``assignee`` is someone ``assignable_users`` lists (or already holds it)."""
    if assignee is None or assignee.pk == current_id:
        return
    if not assignable_users(project).filter(pk=assignee.pk).exists():
        raise ValidationFailed(
            f"{assignee} is not in {project.team} or the project's manager.", field="assignee"
        )


def lead_check(project: Project, lead: Any, current_id: int | None = None) -> None:
    """400 unless a component's ``lead`` is someone ``assignable_users`` lists (the
    assignee's rule: the team and the project manager), or already its lead."""
    if lead is None or lead.pk == current_id:
        return
    if not assignable_users(project).filter(pk=lead.pk).exists():
        raise ValidationFailed(
            f"{lead} is not in {project.team} or the project's manager.", field="lead"
        )


# --- links between work items ---------------------------------------------------------------


# A link as read on the item it is added from: the inward kinds are stored the other way
# round ("A is blocked by B" is the row "B blocks A").
INWARD_KINDS = {"blocked_by": WorkItemLinkKind.BLOCKS, "duplicated_by": WorkItemLinkKind.DUPLICATES}
LINK_CHOICES = (
    ("blocks", "blocks"),
    ("blocked_by", "is blocked by"),
    ("relates", "relates to"),
    ("duplicates", "duplicates"),
    ("duplicated_by", "is duplicated by"),
)


def work_item_link_add(
    *, item: WorkItem, other: WorkItem, kind: str, actor: AbstractBaseUser
) -> WorkItemLink:
    """Link ``item`` to ``other`` with ``kind`` as read on ``item`` (``LINK_CHOICES``:
    "DEF-1 blocks ENH-2", "DEF-1 is blocked by ENH-2"...). Preconditions: the actor works
    on ``item`` (``can_work_item``); ``other`` need only be readable, in any project; not
    a self link (400); no link of this kind between the two, either way (409).
    Audit: ``item_linked`` on both items. No e-mail."""
    choices = dict(LINK_CHOICES)
    if kind not in choices:
        raise ValidationFailed(f"A link is one of: {', '.join(choices)}.", field="kind")
    if item.pk == other.pk:
        raise ValidationFailed(f"{item.key} cannot be linked to itself.", field="target")
    stored = INWARD_KINDS.get(kind, kind)
    with transaction.atomic():
        locked = lock(item)
        if not permissions.can_work_item(actor, locked):
            raise ActionForbidden(f"Only {locked.project.team} may link {locked.key}.")
        existing = (
            WorkItemLink.objects.filter(kind=stored, source=locked, target=other)
            | WorkItemLink.objects.filter(kind=stored, source=other, target=locked)
        ).first()
        if existing is not None:
            verb, _ = existing.phrase_for(locked)
            raise ConflictError(f"{locked.key} already {verb} {other.key}.")
        source, target = (other, locked) if kind in INWARD_KINDS else (locked, other)
        link = WorkItemLink.objects.create(
            source=source, target=target, kind=stored, created_by=actor
        )
        record(locked, actor, "item_linked", comment=f"{link.phrase_for(locked)[0]} {other.key}")
        record(other, actor, "item_linked", comment=f"{link.phrase_for(other)[0]} {locked.key}")
    return link


def work_item_link_remove(*, link: WorkItemLink, actor: AbstractBaseUser) -> None:
    """Remove a link. Precondition: the actor works on either item (``can_work_item``).
    Audit: ``item_unlinked`` on both items."""
    with transaction.atomic():
        row = (
            WorkItemLink.objects.select_for_update()
            .select_related("source__project__team", "target__project__team")
            .filter(pk=link.pk)
            .first()
        )
        if row is None:
            raise ConflictError("That link is gone already.")
        if not (
            permissions.can_work_item(actor, row.source)
            or permissions.can_work_item(actor, row.target)
        ):
            raise ActionForbidden(f"Only the people of {row.source.key} may unlink it.")
        verb, _ = row.phrase_for(row.source)
        inverse, _ = row.phrase_for(row.target)
        row.delete()
        record(row.source, actor, "item_unlinked", comment=f"no longer {verb} {row.target.key}")
        record(row.target, actor, "item_unlinked", comment=f"no longer {inverse} {row.source.key}")


# --- components -------------------------------------------------------------------------------


def _ensure_components(actor: AbstractBaseUser, project: Project) -> None:
    if not permissions.can_manage_components(actor, project):
        raise ActionForbidden(f"Only {project}'s manager or team lead keeps its components.")


def component_create(
    *,
    project: Project,
    actor: AbstractBaseUser,
    name: str,
    description: str = "",
    lead: Any = None,
) -> Component:
    """Add a component to the project's list (``can_manage_components``); names are unique
    per project (409); names and descriptions fit their columns and the lead is one of
    ``assignable_users`` (400). Audit: ``component_added`` on the project."""
    require(name and name.strip(), "name", "A component needs a name.")
    name = name.strip()
    ensure_lengths(Component, {"name": name, "description": description})
    with transaction.atomic():
        _ensure_components(actor, project)
        if Component.objects.filter(project=project, name__iexact=name).exists():
            raise ConflictError(f"{project.code} already has a component '{name}'.")
        lead_check(project, lead)
        component = Component.objects.create(
            project=project, name=name, description=description, lead=lead
        )
        record(
            project,
            actor,
            "component_added",
            comment=name,
            changes={"component": (None, name)},
        )
    return component


def component_update(*, component: Component, actor: AbstractBaseUser, **fields: Any) -> Component:
    """Rename or describe a component, or name its lead (``can_manage_components``); any
    other field is a 400, as are an over-long name and a lead outside ``assignable_users``.
    Audit: ``component_changed`` on the project with the field changes."""
    from itsm.services.common import diff, ensure_editable, snapshot

    ensure_editable(fields, ("name", "description", "lead"))
    if isinstance(fields.get("name"), str):
        fields["name"] = fields["name"].strip()
    ensure_lengths(Component, fields)
    with transaction.atomic():
        row = Component.objects.select_for_update().select_related("project").get(pk=component.pk)
        _ensure_components(actor, row.project)
        if "lead" in fields:
            lead_check(row.project, fields["lead"], row.lead_id)
        if "name" in fields:
            require(fields["name"] and fields["name"].strip(), "name", "A component needs a name.")
            fields["name"] = fields["name"].strip()
            clash = Component.objects.filter(project=row.project, name__iexact=fields["name"])
            if clash.exclude(pk=row.pk).exists():
                raise ConflictError(
                    f"{row.project.code} already has a component '{fields['name']}'."
                )
        before = snapshot(row)
        for key, value in fields.items():
            setattr(row, key, value)
        row.save()
        changes = diff(row, before)
        if changes:
            record(row.project, actor, "component_changed", comment=row.name, changes=changes)
    return row


def component_delete(*, component: Component, actor: AbstractBaseUser) -> None:
    """Remove a component no work item uses (409 when one does: rename it instead).
    Audit: ``component_removed`` on the project."""
    with transaction.atomic():
        row = Component.objects.select_for_update().select_related("project").get(pk=component.pk)
        _ensure_components(actor, row.project)
        used = row.items.count()
        if used:
            raise ConflictError(
                f"{row.name} is on {used} work item{'s' if used != 1 else ''}: "
                "take it off them first."
            )
        row.delete()
        record(
            row.project,
            actor,
            "component_removed",
            comment=row.name,
            changes={"component": (row.name, None)},
        )
