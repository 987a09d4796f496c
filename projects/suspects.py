"""Which release or change may have caused an incident, and which incidents a release
may have caused (its hypercare window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from core.services import audit_record, outbox_email, team_recipients
from itsm.models import Change, ChangeStatus, Incident
from itsm.services.common import ticket_link
from projects.models import HypercareRoute, Release, ReleaseStatus


@dataclass(frozen=True)
class Suspect:
    change: Change
    release: Release | None
    went_live: datetime
    hours_before: float
    score: float  # higher is likelier
    # When it was undone (its release rolled back, the change backed out) after the
    # incident was raised: still a suspect for the time it was live, marked as such.
    withdrawn_at: datetime | None = None
    withdrawn_how: str = ""


def suspects_for(incident: Incident, hours: int | None = None) -> list[Suspect]:
    """Changes implemented on the incident's service in the hours before it was raised,
    ranked: the closer in time the likelier; a change on this service alone beats one
    spread over several; one in the same category (component) more so."""
    hours = hours or settings.SUSPECT_CHANGE_HOURS
    raised = incident.created_at
    since = raised - timedelta(hours=hours)
    changes = (
        Change.objects.filter(
            services=incident.service_id, actual_start__gte=since, actual_start__lte=raised
        )
        .exclude(status__in=[ChangeStatus.CANCELLED, ChangeStatus.REJECTED])
        .prefetch_related("services", "releases__project")
    )
    out = []
    for change in changes:
        release = next(iter(change.releases.all()), None)
        withdrawn_at, how = _withdrawn(change, release)
        if withdrawn_at is not None and withdrawn_at <= raised:
            continue  # undone before the incident: it cannot have caused it
        age = (raised - change.actual_start).total_seconds() / 3600
        score = 100 * (1 - age / hours)
        if change.services.count() == 1:
            score += 10
        if incident.category and incident.category in (change.title + change.description).lower():
            score += 5
        out.append(
            Suspect(
                change,
                release,
                change.actual_start,
                round(age, 1),
                round(score, 1),
                withdrawn_at,
                how,
            )
        )
    return sorted(out, key=lambda s: -s.score)


def _withdrawn(change: Change, release: Release | None) -> tuple[datetime | None, str]:
    """When and how the change stopped being live: its release rolled back, or the change
    itself failed and was backed out."""
    if release is not None and release.status == ReleaseStatus.ROLLED_BACK:
        return release.rolled_back_at or change.actual_end, "rolled back"
    if change.status == ChangeStatus.FAILED:
        return change.actual_end, "backed out"
    return None, ""


def hypercare_releases(service_id: int, at: datetime) -> QuerySet[Release]:
    """Releases of the service that went live within the hypercare window before ``at``."""
    since = at - timedelta(hours=settings.RELEASE_HYPERCARE_HOURS)
    return Release.objects.filter(
        project__services=service_id,
        status=ReleaseStatus.LIVE,
        went_live_at__gte=since,
        went_live_at__lte=at,
    ).order_by("went_live_at", "pk")  # not Release's default (a join to the projects)


def release_suspect_incidents(release: Release) -> QuerySet[Incident]:
    """Incidents on the release's services opened during its hypercare window."""
    if release.went_live_at is None:
        return Incident.objects.none()
    until = release.went_live_at + timedelta(hours=settings.RELEASE_HYPERCARE_HOURS)
    return (
        Incident.objects.filter(
            service__in=release.project.services.all(),
            created_at__gte=release.went_live_at,
            created_at__lte=until,
        )
        .select_related("service", "requester", "caused_by_change")
        .order_by("created_at")
    )


def incident_rate(release: Release, days: int = 7) -> list[dict[str, Any]]:
    """Incidents per day on the release's services, the days before and after go-live."""
    if release.went_live_at is None:
        return []
    day0 = timezone.localtime(release.went_live_at).date()
    services = release.project.services.all()
    rows = []
    for offset in range(-days, days + 1):
        day = day0 + timedelta(days=offset)
        count = Incident.objects.filter(service__in=services, created_at__date=day).count()
        rows.append({"day": day, "offset": offset, "count": count})
    peak = max((r["count"] for r in rows), default=0) or 1
    for r in rows:
        r["height"] = round(100 * r["count"] / peak)
    return rows


def on_incident_created(*, incident: Incident, actor: Any) -> None:
    """A new incident on a service in hypercare goes to the release's team as well as the
    service desk: it stays with the desk and shows in that team's queue, marked hypercare,
    whose members may work it (``HypercareRoute``; projects.apps registers the queue and the
    grant). Subscribed in ProjectsConfig.ready; runs in the creating transaction."""
    for release in hypercare_releases(incident.service_id, incident.created_at).select_related(
        "project__team"
    ):
        team = release.project.team
        _, routed = HypercareRoute.objects.get_or_create(
            incident=incident, release=release, defaults={"team": team}
        )
        if not routed:
            continue  # told once per release
        audit_record(
            target=incident,
            actor=None,
            action="hypercare",
            comment=f"Raised during the hypercare of {release}: routed to {team}'s queue as "
            "well as the service desk.",
        )
        outbox_email(
            event="release.hypercare_incident",
            recipients=team_recipients(release.project.team),
            subject=f"[{incident.key}] New incident on {incident.service} after {release}",
            body=f"{incident.key} ({incident.title}) was raised "
            f"{(incident.created_at - release.went_live_at).total_seconds() / 3600:.0f} h "
            f"after {release} went live.\n\n{ticket_link(incident)}",
            target=incident,
        )


__all__ = [
    "Suspect",
    "hypercare_releases",
    "incident_rate",
    "on_incident_created",
    "release_suspect_incidents",
    "suspects_for",
]
