"""How many incidents a queue holds, per state and per priority, without scanning it.

A queue's counts come from ``itsm_incidentcount`` (kept by a database trigger, see
``itsm.models.counts``) whenever the queue and its filters are made only of what that table
knows: team, assignee, state and priority. Any other filter (text, SLA, age, service …)
counts the matching rows up to ``COUNT_CAP`` and says when there are more, so a request never
reads more than that many rows to count. Reads only; the compaction is in
``itsm.services.counts``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from core.ids import parse_id
from core.roles import is_staff_member
from itsm.models import Incident, IncidentCount
from itsm.models.incident import OPEN_STATES
from itsm.permissions import user_team_ids
from itsm.selectors import routed_to

OPEN = [s.value for s in OPEN_STATES]
# Beyond this many matches a filter's count reads "1 000+" (and pages stop there).
COUNT_CAP = 1000
# Filters the counts table answers exactly; the others are counted up to the cap.
COUNTED_FILTERS = frozenset({"status", "priority", "team", "assignee", "unassigned"})
# Parameters that shape the page, not the set of incidents.
LAYOUT_PARAMS = frozenset({"ordering", "page", "page_size", "poll", "cols", "view", "queue"})


@dataclass
class Counts:
    """A queue's size and its split per state and per priority. ``exact`` is False when a
    filter had more than ``COUNT_CAP`` matches: then ``total`` is the cap (shown "1 000+")."""

    total: int = 0
    exact: bool = True
    cap: int = COUNT_CAP
    status: dict[str, int] = field(default_factory=dict)
    priority: dict[int, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.total:,}" if self.exact else f"{self.cap:,}+"

    def add(self, rows: Iterable[tuple[str, int, int]]) -> None:
        status: Counter[str] = Counter(self.status)
        priority: Counter[int] = Counter(self.priority)
        for state, prio, n in rows:
            if n:
                status[state] += n
                priority[prio] += n
                self.total += n
        self.status = {k: v for k, v in status.items() if v}
        self.priority = {k: v for k, v in sorted(priority.items()) if v}


def _active(filterset: Any) -> dict[str, Any]:
    """The filters in use, by name (``form.cleaned_data`` once the filter has run)."""
    if filterset is None:
        return {}
    if not filterset.is_valid():
        return {"invalid": True}
    data = filterset.form.cleaned_data
    return {
        name: value
        for name, value in data.items()
        if name not in LAYOUT_PARAMS and value not in (None, "", [], ())
    }


def _queue_keys(user: Any, queue: str) -> tuple[Q, Q] | None:
    """The counts rows of ``queue`` and the ``Q`` of incidents other apps route into it
    (a release's hypercare) that those rows do not hold; None for a queue the table
    cannot answer."""
    open_rows = Q(status__in=OPEN)
    if queue == "all":
        return Q(), Q(pk__in=[])
    if queue == "mine":
        return open_rows & Q(assignee_id=user.pk), Q(pk__in=[])
    if queue.startswith("team-"):
        team_id = parse_id(queue.removeprefix("team-"))
        if team_id is None:
            return None
        routed = routed_to(user, team_id) & ~Q(team_id=team_id)
        return open_rows & Q(team_id=team_id), routed
    if queue == "unassigned":
        teams = user_team_ids(user)
        rows = open_rows & Q(assignee_id__isnull=True)
        if not teams:
            return rows, Q(pk__in=[])
        routed = Q(pk__in=[])
        for team_id in teams:
            routed |= routed_to(user, team_id)
        return rows & Q(team_id__in=teams), routed & ~Q(team_id__in=teams)
    return None


def _row_filter(active: dict[str, Any]) -> Q:
    """The counted filters as conditions on the counts rows."""
    cond = Q()
    if "status" in active:
        cond &= Q(status__in=list(active["status"]))
    if "priority" in active:
        cond &= Q(priority__in=[int(p) for p in active["priority"]])
    if "team" in active:
        cond &= Q(team_id=active["team"].pk)
    if "assignee" in active:
        cond &= Q(assignee_id=active["assignee"].pk)
    if "unassigned" in active:
        cond &= Q(assignee_id__isnull=active["unassigned"])
    return cond


def _matches_none(q: Any) -> bool:
    """``q`` can match no row: it is ``pk__in=[]`` (what ``team_queue_q`` answers when
    nothing is routed), an OR of such, or an AND with one of them."""
    if not isinstance(q, Q):  # a (lookup, value) leaf; a subquery is never read here
        lookup, value = q
        return lookup == "pk__in" and isinstance(value, list | tuple | set) and not value
    if q.negated or not q.children:
        return False
    if q.connector == Q.AND:
        return any(_matches_none(child) for child in q.children)
    return all(_matches_none(child) for child in q.children)


def _grouped(qs: QuerySet[Incident]) -> list[tuple[str, int, int]]:
    return list(qs.order_by().values_list("status", "priority").annotate(n=Count("id")))


def incident_counts(user: Any, queue: str, qs: QuerySet[Incident], filterset: Any = None) -> Counts:
    """The counts of ``qs``: the incidents of ``queue`` that ``filterset`` kept (``qs``
    is ``filterset.qs``, or the queue itself without a filter)."""
    active = _active(filterset)
    keys = _queue_keys(user, queue) if is_staff_member(user) else None
    counts = Counts()
    if keys is not None and set(active) <= COUNTED_FILTERS:
        rows, routed = keys
        counts.add(
            IncidentCount.objects.filter(rows & _row_filter(active))
            .values_list("status", "priority")
            .annotate(n=Sum("n"))
        )
        # the few routed in from elsewhere, counted as rows (a handful, on an index)
        if not _matches_none(routed):  # most queues, most of the time: nothing to ask
            counts.add(_grouped(qs.filter(routed)))
        return counts
    counts.cap = cap = COUNT_CAP
    sample = list(qs.order_by().values_list("status", "priority")[: cap + 1])
    counts.add((s, p, 1) for s, p in sample[:cap])
    counts.exact = len(sample) <= cap
    return counts
