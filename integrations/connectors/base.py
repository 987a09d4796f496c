"""What every tracker adapter offers the sync (``integrations.services.connectors``).

Values travel in the remote's terms but under Tandem's field names: ``title`` (text),
``description`` (plain text), ``priority`` (the remote priority's name), ``status`` (the
remote status's name). The adapter turns them into its API's shapes (Jira's ``summary``,
a description in Atlassian Document Format, ``{"name": ...}``) and back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class MalformedPayload(ValueError):
    """A webhook body (or an API answer) that does not have the remote's shape."""


@dataclass(frozen=True)
class RemoteIssue:
    id: str
    key: str
    url: str
    project: str
    updated: datetime
    values: dict[str, Any] = field(default_factory=dict)
    # the issue's labels (tags): not a synced field, read only for Tandem's marker
    labels: tuple[str, ...] = ()
    # who reported it there (empty when the remote hides it): read once, on the import
    reporter_email: str = ""


@dataclass(frozen=True)
class RemoteNote:
    """A comment on the remote side."""

    id: str
    body: str
    author_name: str
    author_email: str
    created: datetime | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook, read: what happened (``issue`` for every event, ``comment`` for a
    comment's), when the remote sent it, and the fields its changelog names."""

    event: str
    issue: RemoteIssue
    sent_at: datetime
    comment: RemoteNote | None = None
    changed: frozenset[str] = frozenset()


class TrackerAdapter(ABC):
    """One remote tracker's API, spoken over ``integrations.http`` (SSRF-guarded, no
    redirects; failures raise ``DeliveryFailed``, retryable or not)."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector

    @abstractmethod
    def get_issue(self, ref: str) -> RemoteIssue: ...

    @abstractmethod
    def create_issue(
        self, *, project: str, issue_type: str, values: Mapping[str, Any], label: str = ""
    ) -> RemoteIssue:
        """Create the issue with ``label`` (Tandem's marker: ``issue_labelled`` finds it)."""

    @abstractmethod
    def issue_labelled(self, *, project: str, label: str) -> RemoteIssue | None:
        """The oldest issue of ``project`` that carries ``label``; None when none does. The
        tracker keeps no idempotency key for a create: this is how a retried create finds
        the issue an earlier try made."""

    @abstractmethod
    def update_fields(self, ref: str, values: Mapping[str, Any]) -> None:
        """Set fields other than the status."""

    @abstractmethod
    def set_status(self, ref: str, status: str) -> None:
        """Move the issue to the status named (by a transition, where the tracker has them)."""

    @abstractmethod
    def add_comment(self, ref: str, body: str) -> RemoteNote: ...

    @abstractmethod
    def comments(self, ref: str) -> list[RemoteNote]: ...

    @abstractmethod
    def updated_since(self, *, project: str, since: datetime | None) -> Iterator[RemoteIssue]:
        """Every issue of ``project`` changed at or after ``since`` (all when None)."""

    @abstractmethod
    def verify_signature(self, *, secret: str, body: bytes, headers: Mapping[str, str]) -> bool: ...

    @abstractmethod
    def delivery_id(self, headers: Mapping[str, str]) -> str:
        """The webhook's unique identifier (the replay guard's key)."""

    @abstractmethod
    def read_webhook(self, payload: Any) -> WebhookEvent:
        """Raises ``MalformedPayload`` when the body lacks what an event must carry."""
