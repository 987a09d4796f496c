"""The requester's answer to "Are you satisfied?", asked once per resolution of an incident
or fulfilment of a service request. Written only by ``itsm.services.satisfaction``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

# The optional comment is a sentence or two, not a second ticket.
COMMENT_MAX_CHARS = 1000


class SatisfactionResponse(models.Model):
    """One row per resolution ("round") of a ticket: created when the requester is asked,
    answered later. Team, service and agent are copied at resolution time so the reports
    stay true when the ticket is later reassigned or its service corrected."""

    # Two nullable foreign keys rather than a generic relation: the report joins and
    # groups on them, and the database keeps them honest (one of the two, never both).
    incident = models.ForeignKey(
        "itsm.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="satisfaction_responses",
    )
    request = models.ForeignKey(
        "itsm.ServiceRequest",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="satisfaction_responses",
    )
    # The ticket's nth resolution (a reopened and resolved again incident asks again).
    round = models.PositiveIntegerField(default=1)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="satisfaction_given"
    )
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    service = models.ForeignKey(
        "core.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="satisfaction_received",
    )
    asked_at = models.DateTimeField()
    # None until the requester answers.
    satisfied = models.BooleanField(null=True, blank=True)
    comment = models.CharField(max_length=COMMENT_MAX_CHARS, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(incident__isnull=False) & Q(request__isnull=True))
                | (Q(incident__isnull=True) & Q(request__isnull=False)),
                name="satisfaction_one_ticket",
            ),
            models.UniqueConstraint(
                fields=["incident", "round"],
                condition=Q(incident__isnull=False),
                name="satisfaction_one_per_incident_round",
            ),
            models.UniqueConstraint(
                fields=["request", "round"],
                condition=Q(request__isnull=False),
                name="satisfaction_one_per_request_round",
            ),
        ]
        # The report reads answers in a period, grouped by team, service or agent.
        indexes = [
            models.Index(fields=["answered_at"], name="satisfaction_answered"),
            models.Index(fields=["team", "answered_at"], name="satisfaction_team"),
            models.Index(fields=["service", "answered_at"], name="satisfaction_service"),
            models.Index(fields=["agent", "answered_at"], name="satisfaction_agent"),
        ]

    def __str__(self) -> str:
        answer = {None: "not answered", True: "satisfied", False: "not satisfied"}
        return f"{self.ticket.key} #{self.round}: {answer[self.satisfied]}"

    @property
    def ticket(self) -> Any:
        return self.incident if self.incident_id is not None else self.request

    @property
    def ticket_kind(self) -> str:
        return "incident" if self.incident_id is not None else "request"
