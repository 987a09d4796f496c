"""E-mail in: one row per mail a mailbox delivered, whatever became of it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class InboundMail(models.Model):
    """A mail read from a mailbox (``integrations.mail``), written in the same transaction
    as what it made (an incident, a service request, a comment), so a mail is processed
    once however often it is fetched: ``message_id`` is unique (a mail without one is
    known by the SHA-256 of its bytes). The mailbox marks the mail done only after this
    row committed; an interrupted fetch reads it again and finds the row."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created a record"
        COMMENTED = "commented", "Added a comment"
        IGNORED = "ignored", "Ignored"
        REJECTED = "rejected", "Rejected"

    message_id = models.CharField(
        max_length=255,
        unique=True,
        help_text="The mail's Message-ID, or sha256:<hex> of its bytes when it has none "
        "(or one too long to store).",
    )
    mailbox = models.CharField(max_length=60)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The mail's Date header.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    size = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    record = GenericForeignKey("content_type", "object_id")
    comment = models.ForeignKey(
        "core.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The Tandem user the sender is (or was made).",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # "was this sender told already today?" (a polite reply at most once a day)
            models.Index(fields=["sender", "received_at"], name="inbound_mail_sender_idx"),
        ]
        verbose_name = "inbound mail"
        verbose_name_plural = "inbound mail"

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject} ({self.outcome})"
