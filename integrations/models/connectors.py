"""Two-way sync with an external tracker: a connector (one remote site and its
credentials), which remote project maps to which Tandem project, and the links between
Tandem records and remote issues, with what each side last agreed on per field.

Secrets (the API token, the webhook secret) are kept encrypted at rest with a key derived
from ``SECRET_KEY`` (``integrations.connectors.secrets``), or the API token is read from
``settings.CONNECTOR_CREDENTIALS`` by name and never stored here.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

# The directions of a mapped field: in (remote → Tandem), out (Tandem → remote), both.
DIRECTIONS = ("in", "out", "both")
# The fields a connector can map, in Tandem's words (integrations.connectors.fields).
MAPPABLE_FIELDS = ("title", "description", "priority", "status", "comments")
DIRECTIONS_HELP = (
    "Tandem field → direction (in, out, both): the allowlist; a field not named here never "
    "leaves Tandem and is never changed from the remote side. Fields: "
    + ", ".join(MAPPABLE_FIELDS)
    + "."
)


def default_field_map() -> dict[str, str]:
    return {
        "title": "both",
        "description": "both",
        "priority": "both",
        "status": "both",
        "comments": "both",
    }


def default_status_map() -> dict[str, str]:
    """Tandem's work item status → the remote status. Several may share a remote status;
    inbound, a remote status becomes the earliest Tandem status (in the lifecycle's order)
    that maps to it, unless the record's status already does."""
    return {
        "open": "To Do",
        "triaged": "To Do",
        "in_progress": "In Progress",
        "in_review": "In Review",
        "fixed": "Done",
        "released": "Done",
        "closed": "Done",
        "wont_fix": "Done",
        "duplicate": "Done",
    }


def default_priority_map() -> dict[str, str]:
    """Tandem's priority (1 highest … 5) → the remote priority name."""
    return {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}


class Connector(models.Model):
    """One external tracker site Tandem syncs with."""

    class Kind(models.TextChoices):
        JIRA = "jira", "Jira Cloud (REST API v3)"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.JIRA)
    base_url = models.URLField(help_text="The site, e.g. https://example.atlassian.net")
    auth_email = models.CharField(
        max_length=254, help_text="The account's e-mail (basic auth with its API token)."
    )
    api_token_encrypted = models.TextField(blank=True, editable=False)
    api_token_setting = models.CharField(
        max_length=80,
        blank=True,
        help_text="Instead of a stored token: its name in the CONNECTOR_CREDENTIALS setting "
        "(an environment variable holding a JSON object of name → token).",
    )
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    allow_private = models.BooleanField(
        default=False,
        help_text="Allow a site on a private network or this host (Administrators only).",
    )
    active = models.BooleanField(default=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The Tandem user changes from the remote side are made as: a member of "
        "each mapped project's team.",
    )
    status_map = models.JSONField(
        default=default_status_map,
        blank=True,
        help_text="Work item status → the remote status name. Inbound, a remote status "
        "becomes the earliest Tandem status mapped to it (unless the record's already is); "
        "Done → fixed needs the defect's target release.",
    )
    priority_map = models.JSONField(
        default=default_priority_map,
        blank=True,
        help_text='Tandem priority (1 highest … 5) → the remote priority name, e.g. {"1": '
        '"Highest"}.',
    )
    field_map = models.JSONField(
        default=default_field_map,
        blank=True,
        help_text=DIRECTIONS_HELP,
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def direction(self, field: str) -> str:
        value = (self.field_map or {}).get(field, "")
        return value if value in DIRECTIONS else ""

    def sends(self, field: str) -> bool:
        return self.direction(field) in ("out", "both")

    def takes(self, field: str) -> bool:
        return self.direction(field) in ("in", "both")


class ConnectorMapping(models.Model):
    """A remote project and the Tandem project its issues are defects of."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="mappings")
    remote_project = models.CharField(
        max_length=40, help_text="The remote project's key, e.g. PAY."
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="connector_mappings"
    )
    issue_type = models.CharField(
        max_length=40, default="Bug", help_text="The remote issue type new defects become."
    )
    create_remote = models.BooleanField(
        default=True, help_text="A new defect in the project becomes a remote issue."
    )

    class Meta:
        ordering = ["connector", "remote_project"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "remote_project"], name="uniq_connector_remote_project"
            ),
            models.UniqueConstraint(fields=["project"], name="uniq_connector_tandem_project"),
        ]

    def __str__(self) -> str:
        return f"{self.connector}: {self.remote_project} ↔ {self.project}"


class RemoteLink(models.Model):
    """A Tandem record and the remote issue it is synced with.

    ``field_versions`` holds, per mapped field, what both sides last agreed on (``value``,
    in the remote's terms), when the remote last changed it (``remote_at``) and when
    Tandem last did (``local_at``): a side whose value differs from the agreed one has
    changed it since, and when both have, the update is a conflict
    (``integrations.services.connectors``)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to sync"
        OK = "ok", "In sync"
        ERROR = "error", "Sync failed"
        CONFLICT = "conflict", "Synced after a conflict"

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="links")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    remote_id = models.CharField(max_length=40, blank=True)
    remote_key = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=500, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    last_error = models.TextField(blank=True)
    field_versions = models.JSONField(default=dict, blank=True)
    # Written with the link, in the transaction that queues the remote create, so every
    # try of that create carries the same mark (``create_label``): a try that finds an
    # issue with it takes that issue instead of making a second one. Random, so two
    # Tandem installs sharing one tracker never mark alike.
    marker = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "remote_id"],
                condition=~Q(remote_id=""),
                name="uniq_remote_link_remote_id",
            ),
            models.UniqueConstraint(
                fields=["connector", "content_type", "object_id"], name="uniq_remote_link_record"
            ),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="remote_link_record")]

    def __str__(self) -> str:
        return f"{self.connector} {self.remote_key or '(not created yet)'}"

    @property
    def create_label(self) -> str:
        """The label Tandem creates the remote issue with (``tandem-<marker>``)."""
        return f"{MARKER_PREFIX}{self.marker.hex}"


# The prefix of the marker label (``RemoteLink.create_label``).
MARKER_PREFIX = "tandem-"


def markers_in(labels: object) -> list[uuid.UUID]:
    """The markers among a remote issue's labels (each ``tandem-<32 hex digits>``)."""
    found = []
    for label in labels if isinstance(labels, list | tuple) else ():
        if isinstance(label, str) and label.startswith(MARKER_PREFIX):
            rest = label[len(MARKER_PREFIX) :]
            if len(rest) != 32:
                continue
            try:
                found.append(uuid.UUID(hex=rest))
            except ValueError:
                continue
    return found


class RemoteComment(models.Model):
    """A comment that exists on both sides, so neither is copied twice (nor echoed)."""

    link = models.ForeignKey(RemoteLink, on_delete=models.CASCADE, related_name="comments")
    comment = models.ForeignKey("core.Comment", on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=40)
    came_from_remote = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "remote_id"], name="uniq_remote_comment"),
            models.UniqueConstraint(fields=["link", "comment"], name="uniq_remote_comment_local"),
        ]

    def __str__(self) -> str:
        return f"{self.link} comment {self.remote_id}"


class InboundDelivery(models.Model):
    """Every webhook a connector's endpoint received, with what became of it: the log of
    refused ones (bad signature, replayed, stale, malformed) and the replay guard (an
    identifier applied once is refused after, and so is the same signed body under
    another identifier: Jira's signature covers the body, not the identifier's header)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        IGNORED = "ignored"
        REJECTED = "rejected"
        FAILED = "failed"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="deliveries")
    identifier = models.CharField(max_length=100, blank=True)
    # SHA-256 of the body as received (hex): what the signature covers; empty on older rows
    digest = models.CharField(max_length=64, blank=True)
    event = models.CharField(max_length=60, blank=True)
    remote_key = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField()
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "identifier"],
                condition=Q(outcome__in=["applied", "ignored"]),
                name="uniq_inbound_delivery_identifier",
            ),
            models.UniqueConstraint(
                fields=["connector", "digest"],
                condition=Q(outcome__in=["applied", "ignored"]) & ~Q(digest=""),
                name="uniq_inbound_delivery_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connector} {self.event} {self.identifier} ({self.outcome})"
