"""Outbound webhooks: who receives what, and what each delivery did.

A ``WebhookSubscription`` names a receiver (URL), the event types it wants
(``integrations.webhooks.catalogue``) and optional filters; its owner is the user as whom
each record is rendered (what they may not read never leaves). A ``WebhookDelivery`` is one
event for one subscription, carried by one outbox row (``core.models.OutboxMessage``, the
"webhook" channel: retries, back-off, ordering and "redeliver" are the outbox's); every
try of it is a ``WebhookAttempt``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=120)
    url = models.CharField(max_length=500, help_text="The receiver: an http(s) URL.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        help_text="Records are rendered as this user sees them; told when it is disabled.",
    )
    event_types = models.JSONField(default=list, help_text="Event types from the catalogue.")
    # Filters: empty means any. A record without the attribute never matches a set filter.
    services = models.ManyToManyField("core.Service", blank=True, related_name="+")
    projects = models.ManyToManyField("projects.Project", blank=True, related_name="+")
    priorities = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    allow_private = models.BooleanField(
        default=False,
        help_text="Deliver to receivers on private networks (an administrator's decision).",
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Tries before a delivery is dead; empty: the setting."
    )
    # The signing secrets (``whsec_<base64>``), encrypted (integrations.webhooks.secrets).
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Dead deliveries in a row; a delivered one resets it."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("integrations:webhook_detail", args=[self.pk])


class WebhookDelivery(models.Model):
    """One event for one subscription; its state is its outbox row's."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.OneToOneField(
        "core.OutboxMessage", on_delete=models.CASCADE, related_name="webhook_delivery"
    )
    webhook_id = models.CharField(max_length=60, unique=True, help_text="The webhook-id header.")
    event_type = models.CharField(max_length=60)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    record_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subscription", "-id"], name="webhook_delivery_sub_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.record_label} → {self.subscription}"


class WebhookAttempt(models.Model):
    """One try of a delivery: what was sent and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    attempted_at = models.DateTimeField()
    url = models.CharField(max_length=500)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True, help_text="The first 2 000 characters.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 2 000 characters.")
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    ok = models.BooleanField(default=False)
    retry_at = models.DateTimeField(null=True, blank=True)
    dead = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.response_status}"
