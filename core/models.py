"""What every app shares: the organisation (teams, services), the audit trail, comments,
the outbox and human-key sequences."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT

from core.roles import PROCESS_ROLES, Role


class Tier(models.IntegerChoices):
    SERVICE_DESK = 1, "1st line: service desk"
    APPLICATION_SUPPORT = 2, "2nd line: application support"
    DEVELOPMENT = 3, "3rd line: development"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    description = models.TextField(blank=True)
    email = models.EmailField(
        blank=True, help_text="Distribution list; when empty, notices go to every member."
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teams_led",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="tandem_teams"
    )
    support_share = models.PositiveSmallIntegerField(
        default=20, help_text="Share of a developer's week reserved for 3rd-line support (%)."
    )
    # Retired, not deleted, once tickets, services or projects name it (core.retire): it
    # takes no new work, and what it holds keeps showing it (docs/decisions.md).
    is_active = models.BooleanField(
        default=True, help_text="Unticked: retired; offered for no new assignment."
    )

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """An application or IT service, with the teams that support and build it."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    support_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        # A team a service names is in use: deleting it is refused (a 409 naming the
        # services) rather than leaving the services without their 2nd or 3rd line.
        on_delete=models.PROTECT,
        related_name="supported_services",
        limit_choices_to={"tier": Tier.APPLICATION_SUPPORT},
        help_text="The 2nd-line team for this service.",
    )
    development_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_services",
        limit_choices_to={"tier": Tier.DEVELOPMENT},
        help_text="The development team that owns the application: its 3rd line.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def team_for_tier(self, tier: int) -> Team | None:
        if tier == Tier.APPLICATION_SUPPORT:
            return self.support_team
        if tier == Tier.DEVELOPMENT:
            return self.development_team
        return None


class ServiceRole(models.Model):
    """A process role held for one service only (e.g. Incident Manager of Payroll)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="role_holders")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_roles"
    )
    role = models.CharField(max_length=40, choices=[(r.value, r.label) for r in PROCESS_ROLES])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "user", "role"], name="uniq_service_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} of {self.service}"


class UserProfile(models.Model):
    """What Tandem knows of a person beyond the login: their line manager (who approves
    their service requests where the catalogue says so)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tandem_profile"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )

    support_share = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="This person's reserved share for 3rd-line support (%); empty: the team's.",
    )

    def __str__(self) -> str:
        return f"{self.user} (manager: {self.manager or '—'})"


class Sequence(models.Model):
    """Human-key counters (INC-1042), one row per name (``core.services.sequence_next``).

    SQLite: the row is the counter, locked while a number is taken. PostgreSQL: the
    numbers come from the database sequence ``core_key_<name>``, which waits for nobody;
    the row holds where that sequence began (its ``last_value`` is not kept current)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_value = models.PositiveBigIntegerField(default=1000)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"


class AuditEvent(models.Model):
    """One row per action on a ticket: who, when, from, to, what changed and why.

    Written by the service that performed the action, in the same transaction.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when Tandem itself acted (a periodic task).",
    )
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=40, blank=True)
    to_state = models.CharField(max_length=40, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor or 'Tandem'}"


class Comment(models.Model):
    """A public reply (the requester sees it) or an internal work note, on any ticket."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return f"{'Reply' if self.public else 'Note'} by {self.author}"


class OutboxMessage(models.Model):
    """A side effect (an e-mail, a webhook delivery, a push to a connected tracker) written
    in the transaction that caused it and delivered by a Celery task after commit, retried
    with back-off until it succeeds or is parked as failed (``core.outbox``).

    What a channel needs beyond the e-mail's fields is in ``payload`` (an e-mail's HTML and
    threading headers, a webhook's subscription and body). Messages that share an
    ``order_key`` (a webhook subscription and record, say) are delivered one at a time in
    the order they were written: a later one waits while an earlier one is pending."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"
        CONNECTOR = "connector"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    event = models.CharField(max_length=60, help_text="What happened, e.g. incident.assigned.")
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    available_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    order_key = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["available_at"],
                name="outbox_pending_idx",
                condition=Q(status="pending"),
            ),
            # "is an earlier message of this key still pending?" (core.outbox)
            models.Index(
                fields=["order_key", "id"],
                name="outbox_pending_order_idx",
                condition=Q(status="pending") & ~Q(order_key=""),
            ),
            # the settled messages of a channel, oldest first: the daily purge
            # (core.outbox.outbox_purge_settled) reads a range of it
            models.Index(
                fields=["channel", "created_at", "id"],
                name="outbox_settled_idx",
                condition=~Q(status="pending"),
            ),
            # "did Tandem send this Message-ID, about which record?" (a reply fetched from
            # the support mailbox, a loop): ``core.mailout`` stores it in the payload
            models.Index(
                KT("payload__message_id"),
                name="outbox_email_message_id_idx",
                condition=Q(channel="email"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {', '.join(self.recipients)} ({self.status})"


class Heartbeat(models.Model):
    """When a periodic job last finished, written by the job itself (``core.health``): beat's
    schedule and a worker's run can only be seen from the web by what they leave behind."""

    name = models.CharField(max_length=60, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class Attachment(models.Model):
    """A file on a record (incident, request, problem, change, work item, article).

    Written by ``core.attachments.attachment_add`` only. ``content_type_sniffed`` is what
    the bytes are, not what the client said; ``public`` files are read by the record's
    requester, internal ones by staff (``core.visibility.Parts``)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    # The name in STORAGES["attachments"] (attachments/<yyyy>/<mm>/<uuid>/<name>); read and
    # written through core.attachments only, so the storage is looked up when used.
    path = models.CharField(max_length=300, unique=True)
    name = models.CharField(max_length=150, help_text="The uploaded name, sanitised.")
    size = models.PositiveBigIntegerField()
    mime_type = models.CharField(max_length=120)
    sha256 = models.CharField(max_length=64)
    public = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        from core.attachments import PREVIEW_TYPES

        return self.mime_type in PREVIEW_TYPES


class Watch(models.Model):
    """Someone who is told what happens on a record (comments, state changes), as Jira's
    watchers are. Written by ``core.watchers`` only (``watch_add``, ``watch_remove``, and
    the automatic watches of comment authors, reporters and assignees)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who added the watch; empty when Tandem did (author, reporter, assignee).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id", "user"], name="uniq_watch")
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.content_type_id}:{self.object_id}"


class NotificationFamily(models.TextChoices):
    """The kinds of news a person may want by e-mail or only in the app (the preferences
    page lists these; ``core.notifications.family_of`` sorts each outbox event into one)."""

    ASSIGNED = "assigned", "Assigned to me or my team"
    MENTIONED = "mentioned", "Mentioned"
    WATCHED = "watched", "A record I watch changed"
    TICKETS = "tickets", "Replies and progress on my tickets"
    SLA = "sla", "SLA warnings and breaches"
    APPROVALS = "approvals", "Approvals"
    DELIVERY = "delivery", "Changes, releases, problems and articles"


class Notification(models.Model):
    """An in-app copy of an e-mail Tandem sent (or would have sent: the person turned that
    family's e-mail off) to this user. Written by ``core.notifications`` from the shared
    outbox path only; the bell counts the unread ones."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=60)
    family = models.CharField(max_length=20, choices=NotificationFamily.choices)
    subject = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="The record's page.")
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    # A notice that gives way to a later e-mail in the same transaction (core.notices)
    # is deleted with its outbox row, so the app does not say it twice either.
    outbox_message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_idx"),
            models.Index(
                fields=["user"], name="notification_unread_idx", condition=Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.subject}"


class NotificationPreference(models.Model):
    """Whether one family of news also goes by e-mail to this user. No row: it does (the
    in-app notification is written whatever this says)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    family = models.CharField(max_length=20, choices=NotificationFamily.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "family"], name="uniq_notification_pref")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.family}: {'e-mail' if self.email else 'app only'}"


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class PersonalToken(models.Model):
    """A person's API token (``Authorization: Bearer tdm_…``), acting as them, within its
    scope, until it expires or is revoked (``core.tokens``).

    The secret is never stored: ``digest`` is the SHA-256 of the whole token, and
    ``prefix`` (its first characters, random but not secret) finds the row and names the
    token in lists. A lost token cannot be shown again, only revoked and replaced."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    prefix = models.CharField(max_length=20, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Names tell a person's tokens apart, among those still in force.
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="uniq_personal_token_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` on an API ``POST``, and the answer it got.

    The row is written (and committed) before the action runs; the action and the stored
    answer then commit together with the row locked, so a retry replays the answer of an
    action that happened, re-runs one that did not, and a concurrent duplicate is told the
    first is in progress (``core.api.contract``). Rows live 24 hours
    (``IDEMPOTENCY_KEY_TTL_HOURS``; ``core.tasks.idempotency_keys_purge``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the request's body.")
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty while the first request is in progress."
    )
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.method} {self.path} [{self.key}]"


__all__ = [
    "Attachment",
    "AuditEvent",
    "Comment",
    "Heartbeat",
    "IdempotencyKey",
    "Notification",
    "NotificationFamily",
    "NotificationPreference",
    "OutboxMessage",
    "PersonalToken",
    "Role",
    "Sequence",
    "Service",
    "ServiceRole",
    "Team",
    "Tier",
    "TokenScope",
    "Watch",
]
