"""The dashboards' daily roll-ups of incidents (docs/decisions.md, issue 16).

At a million incidents a figure computed from the incident table scans the period's
incidents on every opening; these tables hold a day's numbers per service, team and
priority (and tier, for the backlog), so a figure sums a few thousand rows whatever the
size of the table. ``itsm.facts`` writes them; ``dashboards.services.facts_collect``
brings them up to date every ``DASHBOARDS_COLLECT_SECONDS``.

Plain integer ids, not foreign keys (as ``IncidentCount``): a roll-up row must never block
or cascade into the records it counts.
"""

from __future__ import annotations

from django.db import models

from core.dashboards import DURATION_BANDS


class IncidentDay(models.Model):
    """The incidents raised on ``day`` with this service, team and priority (as they are
    now): how many, how many were resolved at least once and reopened, and how long they
    took to a first response and to resolution (count, sum and largest, in seconds, and a
    count per band of ``core.dashboards.DURATION_BOUNDS`` in ``respond_<i>`` /
    ``resolve_<i>``). Recomputed whole for every day one of its incidents changed."""

    day = models.DateField()
    # A total row: a day's per priority over every service and team (service and team
    # empty), what a dashboard without a filter sums, a few rows a day instead of
    # hundreds; or a team's over every service (team set), what a filter by team sums.
    total = models.BooleanField(default=False)
    service_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    priority = models.PositiveSmallIntegerField()
    raised = models.IntegerField(default=0)
    resolved_once = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    respond_n = models.IntegerField(default=0)
    respond_sum = models.FloatField(default=0)
    respond_max = models.FloatField(null=True)
    resolve_n = models.IntegerField(default=0)
    resolve_sum = models.FloatField(default=0)
    resolve_max = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["total", "team_id", "day"], name="incident_day_idx"),
            models.Index(fields=["service_id", "day"], name="incident_day_service_idx"),
            models.Index(fields=["team_id", "day"], name="incident_day_team_idx"),
            # Top services: each service's incidents raised over up to a year (120 000
            # rows at a million incidents), summed off this index alone, not the wide rows
            # (keys, not INCLUDE: SQLite has no covering index and would warn on migrate)
            models.Index(
                fields=["day", "service_id", "raised"],
                condition=models.Q(total=False),
                name="incident_day_raised_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} service {self.service_id} team {self.team_id} P{self.priority}"


for _i in range(DURATION_BANDS):
    IncidentDay.add_to_class(f"respond_{_i}", models.IntegerField(default=0))
    IncidentDay.add_to_class(f"resolve_{_i}", models.IntegerField(default=0))


class IncidentBacklogDay(models.Model):
    """The incidents open at the end of ``day`` (raised before it ended, not resolved by
    then, never cancelled) with this service, team, priority and tier. Written for each
    day as it passes (and for today, as it stands, on every collection): a past day keeps
    what was open then, in the priority and tier they had then."""

    day = models.DateField()
    service_id = models.BigIntegerField()
    team_id = models.BigIntegerField(null=True)
    priority = models.PositiveSmallIntegerField()
    tier = models.PositiveSmallIntegerField()
    open = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="incident_backlog_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} service {self.service_id} P{self.priority} T{self.tier}: {self.open}"
