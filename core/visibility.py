"""Which parts of a record a user may read: decided once per record type.

A record a user may open (the app's selector decides that) has parts that are not for
everyone: internal work notes, history rows about how support organised itself, the
field changes and comments of those rows, the SLA clocks' event log, linked internal
records. Each app registers one policy per record type in its ``AppConfig.ready()``
(``register_parts_policy``); the page timeline, the API's ``/history/``, ``/comments/``
and ``/sla/``, the API detail's linked records and notices to requesters all ask
``parts_for``. A record type without a policy shows staff everything and anyone else
nothing, so a forgotten registration hides rather than leaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import QuerySet

from core.models import Attachment, AuditEvent, Comment
from core.roles import is_staff_member
from core.selectors import TimelineEntry, comments_of, history_of
from core.templatetags.tandem import preload_audit_people


@dataclass(frozen=True)
class Parts:
    """What one user may read of one record."""

    public_replies: bool = False
    internal_notes: bool = False
    # The audit actions shown, or None for every one.
    history_actions: frozenset[str] | None = frozenset()
    # The field changes of each shown history row (``changes``).
    history_details: bool = False
    # The SLA clocks' event log (warnings, breaches, why a clock paused).
    sla_events: bool = False
    # Keys and titles of linked internal records (problem, defect, change).
    linked_records: bool = False
    # How support routes the ticket: its tier (1st/2nd/3rd line) and its teams' tiers.
    routing: bool = False
    # Files: the public ones (the requester's own and staff's marked public) and the
    # internal ones (staff's working files).
    public_attachments: bool = False
    internal_attachments: bool = False
    # Who else watches the record (staff): a requester sees only whether they watch.
    watchers: bool = False

    def shows_action(self, action: str) -> bool:
        return self.history_actions is None or action in self.history_actions

    def history(self, record: models.Model) -> QuerySet[AuditEvent]:
        qs = history_of(record)
        if self.history_actions is None:
            return qs
        return qs.filter(action__in=sorted(self.history_actions))

    def comments(self, record: models.Model) -> QuerySet[Comment]:
        if not (self.public_replies or self.internal_notes):
            return Comment.objects.none()
        return comments_of(record, internal=self.internal_notes)

    def attachments(self, record: models.Model) -> QuerySet[Attachment]:
        from core.attachments import attachments_of  # attachments import this module

        if not (self.public_attachments or self.internal_attachments):
            return Attachment.objects.none()
        qs = attachments_of(record)
        return qs if self.internal_attachments else qs.filter(public=True)

    def shows_attachment(self, attachment: Attachment) -> bool:
        return self.internal_attachments or (self.public_attachments and attachment.public)

    def timeline(self, record: models.Model) -> list[TimelineEntry]:
        """History rows and comments in one list, oldest first."""
        history = list(self.history(record))
        if self.history_details:
            preload_audit_people(history)
        entries = [TimelineEntry(e.created_at, "audit", e) for e in history]
        entries += [TimelineEntry(c.created_at, "comment", c) for c in self.comments(record)]
        return sorted(entries, key=lambda e: (e.at, 0 if e.kind == "audit" else 1))

    def audit_row(self, event: AuditEvent) -> dict[str, Any]:
        """An audit row's readable fields: without its field changes unless allowed."""
        return {"changes": event.changes if self.history_details else {}}


EVERYTHING = Parts(
    public_replies=True,
    internal_notes=True,
    history_actions=None,
    history_details=True,
    sla_events=True,
    linked_records=True,
    routing=True,
    public_attachments=True,
    internal_attachments=True,
    watchers=True,
)
NOTHING = Parts()

Policy = Callable[[Any, Any], Parts]
_policies: dict[type[models.Model], Policy] = {}


def staff_only(user: Any, record: Any) -> Parts:
    """The policy of records only staff open (problems, changes, work items, releases)."""
    return EVERYTHING if is_staff_member(user) else NOTHING


def register_parts_policy(model: type[models.Model], policy: Policy) -> None:
    _policies[model._meta.concrete_model or model] = policy


def parts_for(user: Any, record: models.Model) -> Parts:
    """What ``user`` may read of ``record``'s parts (``user=None``: Tandem, everything)."""
    if user is None:
        return EVERYTHING
    policy = _policies.get(type(record)._meta.concrete_model or type(record), staff_only)
    return policy(user, record)
