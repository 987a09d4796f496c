"""How incidents react to SLA breaches (subscribed in ItsmConfig.ready)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.models import ServiceRole, Tier
from core.roles import Role
from core.services import outbox_email
from itsm.models import Incident
from sla.models import BreachEscalation, SlaClock

User = get_user_model()


def _incident_managers(incident: Incident) -> list[str]:
    per_service = ServiceRole.objects.filter(
        service_id=incident.service_id, role=Role.INCIDENT_MANAGER
    ).values("user_id")
    return list(
        User.objects.filter(
            Q(groups__name=Role.INCIDENT_MANAGER) | Q(pk__in=per_service), is_active=True
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


def _takes_work(team: object) -> bool:
    """An escalation target: the service's team of that tier, unless it is retired
    (core.retire); then the breach is told, not escalated to nobody's queue."""
    return team is not None and getattr(team, "is_active", True)


def on_clock_breached(*, clock: SlaClock, ticket: object) -> None:
    """Escalate and notify as the clock's policy says. Runs in the dispatch transaction,
    with the incident row locked, as Tandem (no actor)."""
    if not isinstance(ticket, Incident):
        return
    from itsm.services import incident_escalate  # services import this module's models

    incident = ticket
    policy = clock.policy
    target = clock.get_target_display().lower()
    before = (incident.team, incident.tier)
    # Act first, then describe: every notice below is built from the incident as the
    # escalation left it (incident_escalate returns the saved row), never from the copy
    # the sweep handed us, so nobody reads "with the desk" about a ticket now at tier 3.
    escalate_to = {
        BreachEscalation.NEXT_TIER: incident.tier + 1,
        BreachEscalation.DEVELOPMENT: Tier.DEVELOPMENT,
    }.get(policy.breach_escalation)
    if (
        escalate_to
        and incident.is_open
        and escalate_to > incident.tier
        and _takes_work(incident.service.team_for_tier(escalate_to))
    ):
        incident = incident_escalate(
            incident=incident,
            actor=None,
            tier=escalate_to,
            reason=f"Automatic escalation: {target} SLA breached under {policy}.",
        )
    if policy.notify_incident_manager:
        outbox_email(
            event="incident.sla_breached",
            recipients=_incident_managers(incident),
            subject=f"[{incident.key}] P{incident.priority} {target} SLA breached: "
            f"{incident.title}",
            body=f"{incident.key} missed its {target} target under {policy}. "
            + _where(incident, before),
            target=incident,
        )
    if incident.tier == Tier.DEVELOPMENT and incident.team and incident.team.lead:
        outbox_email(
            event="incident.sla_breached_lead",
            recipients=[incident.team.lead.email],
            subject=f"[{incident.key}] Breached SLA in your team's queue: {incident.title}",
            body=f"{incident.key} (P{incident.priority}) breached its {target} target and is "
            f"in the {incident.team} queue.",
            target=incident,
        )


def _where(incident: Incident, before: tuple[object, int]) -> str:
    """Where the incident is now, and where it came from if the breach moved it."""
    a = incident.assignee
    who = (a.get_full_name() or a.username) if a else "nobody yet"
    now = f"{incident.team or 'no team'} (tier {incident.tier}), assigned to {who}"
    team, tier = before
    if tier != incident.tier:
        return f"It was escalated from {team or 'no team'} (tier {tier}) and is now with {now}."
    return f"It is with {now}."
