"""SLA compliance over a period, grouped by priority, team or service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from sla.models import SlaClock

GROUPS = {"priority": "priority", "team": "team__name", "service": "service__name"}


@dataclass(frozen=True)
class ReportRow:
    group: str
    target: str
    total: int
    met: int
    breached: int
    open: int

    @property
    def compliance(self) -> float | None:
        decided = self.met + self.breached
        return round(100 * self.met / decided, 1) if decided else None


def sla_report(*, start: datetime, end: datetime, group_by: str) -> list[ReportRow]:
    """Clocks started in [start, end), cancelled ones left out. A clock is *met* when it
    stopped in time, *breached* once it missed its target, *open* otherwise."""
    field = GROUPS[group_by]
    rows = (
        SlaClock.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(state="cancelled")
        .values(field, "target")
        .annotate(
            n_total=Count("id"),
            n_breached=Count("id", filter=Q(breached=True)),
            n_met=Count("id", filter=Q(breached=False, stopped_at__isnull=False)),
        )
        .order_by(field, "target")
    )
    out = []
    for r in rows:
        key = r[field]
        label = f"P{key}" if group_by == "priority" and key else (key or "—")
        total, met, breached = r["n_total"], r["n_met"], r["n_breached"]
        out.append(ReportRow(label, r["target"], total, met, breached, total - met - breached))
    return out


def sla_breaches(*, start: datetime, end: datetime, limit: int = 200) -> list[SlaClock]:
    return list(
        SlaClock.objects.filter(breached=True, started_at__gte=start, started_at__lt=end)
        .select_related("policy", "content_type", "team", "service")
        .prefetch_related("ticket")
        .order_by("-breached_at")[:limit]
    )
