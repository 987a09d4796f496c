"""The agent desk: queues, filters, columns, saved views, and the live poll that keeps an
open queue current without a reload."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from core.exceptions import ActionForbidden, DomainError, NotFound, ValidationFailed
from core.export import csv_response, wants_csv
from core.extensions import fields_for
from core.models import Team, Tier
from core.roles import is_staff_member
from core.selectors import team_people, team_ref
from core.views import DomainErrorMixin
from itsm import selectors
from itsm.counts import Counts, incident_counts
from itsm.exports import INCIDENT_COLUMNS
from itsm.filters import SLA_STATES, IncidentFilter
from itsm.models import DEFAULT_COLUMNS, DESK_COLUMNS, Incident, IncidentStatus, SavedView
from itsm.permissions import can_edit_saved_view, can_share_with_team, user_team_ids
from itsm.services import saved_views as views_service
from itsm.views.bulk import bulk_bar_context
from itsm.views.desk_widgets import DESK_WIDGETS
from sla.selectors import ticket_clocks

PAGE_SIZE = 25
# Pages reach this far into a queue (an index walk of that many rows at most); beyond it
# the page asks for a narrower filter or the other sort order.
MAX_ROWS = 10_000
# What a queue row shows of an incident's neighbours, and the long texts it never shows.
QUEUE_RELATED = ("service", "team", "assignee", "requester")
QUEUE_DEFERRED = ("description", "resolution_notes")
# The assignee filter offers at most this many people of my teams (and me).
ASSIGNEE_CHOICES = 200
# The sidebar shows at most this many views of each kind, one count query each.
SIDEBAR_VIEWS = 20
AGE_CHOICES = [(1, "over 1 day"), (3, "over 3 days"), (7, "over a week"), (30, "over 30 days")]
IDLE_CHOICES = [(4, "4 hours"), (24, "1 day"), (72, "3 days"), (168, "a week")]


def _is_third_line_queue(queue: str, teams: list[Team]) -> bool:
    return any(queue == f"team-{t.pk}" and t.tier == Tier.DEVELOPMENT for t in teams)


def _default_queue(request: HttpRequest, teams: list[Team]) -> str:
    """My own work when I have some, else my first team's queue, else everything."""
    if selectors.incident_queue(request.user, "mine").exists():
        return "mine"
    return f"team-{teams[0].pk}" if teams else "all"


def compact_age(delta: timedelta) -> str:
    """``3d``, ``5h``, ``12m``: short enough for a queue column."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def page_token(rows: Iterable[tuple[int, Any]]) -> str:
    """What the user sees of a queue, as a short hash of its rows' ids and versions: the
    poll answers 204 while it stays the same."""
    text = "|".join(f"{pk}:{updated.isoformat()}" for pk, updated in rows)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def _columns(params: QueryDict, view: SavedView | None) -> list[str]:
    chosen = [c for value in params.getlist("cols") for c in value.split(",") if c]
    if chosen:
        return views_service.clean_columns(chosen)
    return view.shown_columns if view else list(DEFAULT_COLUMNS)


def _active_view(request: HttpRequest, params: QueryDict) -> SavedView | None:
    raw = params.get("view")
    if not raw:
        return None
    view = selectors.saved_views_for(request.user).filter(pk=raw).first() if raw.isdigit() else None
    if view is None:
        raise NotFound(f"No saved view {raw}.")
    return view


def sidebar_views(request: HttpRequest) -> dict[str, list[dict[str, Any]]]:
    """My views and my teams' views, each with the count of its filter (one query for the
    views, one per view for its count, at most ``SIDEBAR_VIEWS`` of each kind)."""
    team_ids = user_team_ids(request.user)
    views = selectors.saved_views_for(request.user).filter(
        Q(owner=request.user, team__isnull=True) | Q(team_id__in=team_ids)
    )
    mine: list[SavedView] = []
    shared: list[SavedView] = []
    for view in views:  # in name order, as each list was read before
        if view.team_id is None:
            mine.append(view)
        else:
            shared.append(view)
    return {
        "mine": [_view_entry(request, v) for v in mine[:SIDEBAR_VIEWS]],
        "team": [_view_entry(request, v) for v in shared[:SIDEBAR_VIEWS]],
    }


def _view_entry(request: HttpRequest, view: SavedView) -> dict[str, Any]:
    data = QueryDict(views_service.view_querystring(view), mutable=True)
    data.pop("ordering", None)  # a count needs no order
    queue = data.get("queue") or "all"
    try:
        base = selectors.incident_queue(request.user, queue)
        filterset = IncidentFilter(data, queryset=base)
        count: str | None = incident_counts(request.user, queue, filterset.qs, filterset).label
    except DomainError:  # its team queue is gone: list it, without a number
        count = None
    return {
        "view": view,
        "count": count,
        "href": f"?{views_service.view_querystring(view)}&view={view.pk}",
    }


def _queue_size(request: HttpRequest, queue: str) -> str:
    return incident_counts(request.user, queue, selectors.incident_queue(request.user, queue)).label


def _queues(request: HttpRequest, teams: list[Team]) -> list[tuple[str, str, str | None]]:
    """The sidebar's queues with their sizes (from the counts table, see itsm.counts)."""
    queues: list[tuple[str, str, str | None]] = [("mine", "My work", _queue_size(request, "mine"))]
    queues += [
        (f"team-{t.pk}", f"{t.name} · T{t.tier}", _queue_size(request, f"team-{t.pk}"))
        for t in teams
    ]
    queues += [
        ("unassigned", "Unassigned", _queue_size(request, "unassigned")),
        ("all", "All incidents", None),
    ]
    return queues


class CountedPaginator(Paginator):
    """Pages over a queue whose size is known already (``itsm.counts``): no ``COUNT(*)``
    of the queue. A capped count (``1 000+``) pages up to the cap."""

    def __init__(self, object_list: Any, per_page: int, counts: Counts) -> None:
        super().__init__(object_list, per_page)
        self.counts = counts

    @property
    def count(self) -> int:  # type: ignore[override]
        return min(self.counts.total, MAX_ROWS)

    @property
    def beyond(self) -> bool:
        """More match than pages reach: the page says so, with what to do."""
        return not self.counts.exact or self.counts.total > MAX_ROWS


def _assignee_choices(
    request: HttpRequest, my_people: Iterable[tuple[int, int, str]]
) -> list[tuple[int, str]]:
    """Me first, then the people of my teams (``team_people``; a bounded list)."""
    me = request.user
    seen, people = {me.pk}, []
    for _, pk, name in my_people:
        if pk not in seen and len(people) < ASSIGNEE_CHOICES:
            seen.add(pk)
            people.append((pk, name))
    return [(me.pk, "Me"), *people]


def desk_filter(request: HttpRequest, params: QueryDict) -> tuple[str, list[Team], IncidentFilter]:
    """The queue ``params`` name (or the user's default), the user's teams and the filter
    over that queue: what the desk lists, and what a bulk action on "every incident
    matching" acts on. ``params`` gets the default ordering of a 3rd-line queue."""
    teams = list(Team.objects.filter(pk__in=user_team_ids(request.user)))
    queue = params.get("queue") or _default_queue(request, teams)
    base = selectors.incident_queue(request.user, queue)
    if not params.get("ordering") and _is_third_line_queue(queue, teams):
        params["ordering"] = "sla"  # developers work what breaches first
    return queue, teams, IncidentFilter(params, queryset=base, request=request)


def render_desk(
    request: HttpRequest,
    params: QueryDict,
    *,
    save_error: DomainError | None = None,
    save_name: str = "",
) -> HttpResponse:
    """The desk for ``params`` (the page's GET, or a refused save's posted query); a poll
    (``poll=<token>``) answers 204 while the visible rows are unchanged."""
    my_team_ids = user_team_ids(request.user)
    params = params.copy()
    polling = "poll" in params
    view = _active_view(request, params)
    columns = _columns(params, view)
    queue, teams, filterset = desk_filter(request, params)
    qs: QuerySet[Incident] = filterset.qs
    filterset.form.renderer = DESK_WIDGETS  # its selects and checkboxes, without templates
    if wants_csv(request):  # every row of this queue as filtered and sorted, not the page
        return csv_response(qs, INCIDENT_COLUMNS, f"incidents-{queue}")
    number = _page_number(params.get("page"))
    if polling:
        start = (number - 1) * PAGE_SIZE
        rows = list(qs.values_list("id", "updated_at")[start : start + PAGE_SIZE])
        if page_token(rows) == params.get("poll"):
            return HttpResponse(status=204)
    counts = incident_counts(request.user, queue, qs, filterset)
    # the rows as the queue shows them: only the records and columns it reads
    rows = qs.select_related(None).select_related(*QUEUE_RELATED).defer(*QUEUE_DEFERRED)
    page = CountedPaginator(rows, PAGE_SIZE, counts).get_page(number)
    now, specs = timezone.now(), {}
    for incident in page:
        if "sla" in columns:
            incident.clock_views = ticket_clocks(incident, now, specs=specs)
        incident.extra = fields_for("incident", incident)  # e.g. its defect
        incident.age_label = compact_age(now - incident.created_at)
        idle = now - incident.updated_at
        incident.idle_label = (
            "just now" if idle < timedelta(minutes=1) else f"{compact_age(idle)} ago"
        )
    for name in ("page", "poll"):
        params.pop(name, None)
    shown = params.copy()
    if page.number > 1:
        shown["page"] = str(page.number)
    saved_query = params.copy()
    for name in views_service.TRANSIENT_PARAMS:
        saved_query.pop(name, None)
    my_people = team_people(my_team_ids)  # the assignee filter's and the bulk bar's
    bulk = bulk_bar_context(request.user, my_people)  # the action bar (None: not offered)
    # every team, read once: the bar's teams are all of them, in the same order
    all_teams = [t for t, _ in bulk["teams"]] if bulk else list(Team.objects.all())
    # the team filter's options from them (only what its <select> shows: the field still
    # checks a value against its own queryset)
    team_field = filterset.form.fields["team"]
    team_field.widget.choices = [("", team_field.empty_label), *((t.pk, str(t)) for t in all_teams)]
    context: dict[str, Any] = {
        "page": page,
        "token": page_token((i.pk, i.updated_at) for i in page.object_list),
        "filter": filterset,
        "queue": queue,
        "counts": counts,
        "statuses": IncidentStatus.choices,
        "querystring": params.urlencode(),
        "saved_query": saved_query.urlencode(),
        # Where a row's form (Assign to me) comes back to: this queue, never a poll's URL.
        "return_to": f"{reverse('itsm:desk')}?{shown.urlencode()}",
        "ordering": params.get("ordering", ""),
        "columns": columns,
        "column_choices": DESK_COLUMNS,
        "active_view": view,
        "may_edit_view": view is not None and can_edit_saved_view(request.user, view),
        "sla_choices": SLA_STATES,
        "age_choices": _with_current(AGE_CHOICES, params.get("older_than_days"), "over {} days"),
        "idle_choices": _with_current(IDLE_CHOICES, params.get("idle_hours"), "{} hours"),
        "assignee_choices": _assignee_choices(request, my_people),
        "share_teams": [t for t in all_teams if can_share_with_team(request.user, t.pk)],
        "save_error": save_error,
        "save_name": save_name,
        "bulk": bulk,
    }
    if polling or not request.htmx:
        context["queues"] = _queues(request, teams)
        context["views"] = sidebar_views(request)
    if polling:
        template = "itsm/_desk_poll.html"
    elif request.htmx:
        template = "itsm/_queue.html"
    else:
        template = "itsm/desk.html"
    status = save_error.status_code if save_error else 200
    return render(request, template, context, status=status)


def _with_current(
    choices: list[tuple[int, str]], current: str | None, label: str
) -> list[tuple[int, str]]:
    """The preset choices, plus the value in the URL when it is not one of them."""
    if current and current.isdigit() and int(current) not in {v for v, _ in choices}:
        return sorted([*choices, (int(current), label.format(current))])
    return choices


class DeskView(LoginRequiredMixin, DomainErrorMixin, View):
    """The agent console: my work, my teams' queues, filters, columns, saved views, counts,
    sorting; ``poll=<token>`` is the live queue's cheap question "anything new?"."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not is_staff_member(request.user):
            return redirect("itsm:portal")
        return render_desk(request, request.GET)

    def post(self, request: HttpRequest) -> HttpResponse:
        """*Save view*: the desk's current filter, sort, queue and columns under a name. It
        posts to the desk itself, so a refused save shows the same desk (the name kept, the
        reason beside the form) at the desk's address, where its links and poll work."""
        query = QueryDict(request.POST.get("query", ""))
        name = request.POST.get("name", "")
        try:
            view = views_service.saved_view_create(
                actor=request.user,
                name=name,
                query=query,
                columns=request.POST.getlist("cols") or None,
                team=team_ref(request.POST.get("team")),
            )
        except (ValidationFailed, ActionForbidden) as exc:
            if not is_staff_member(request.user):
                raise
            shown = query.copy()  # the desk as it was: its columns and view too
            shown.setlist("cols", request.POST.getlist("cols"))
            if request.POST.get("view"):
                shown["view"] = request.POST["view"]
            return render_desk(request, shown, save_error=exc, save_name=name)
        return redirect(_view_url(view))


class SavedViewChangeView(LoginRequiredMixin, DomainErrorMixin, View):
    """``op=update``: the view takes the desk's current query and columns; ``op=delete``."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        view = selectors.saved_views_for(request.user).filter(pk=pk).first()
        if view is None:
            raise NotFound(f"No saved view {pk}.")
        op = request.POST.get("op")
        if op == "delete":
            views_service.saved_view_delete(view=view, actor=request.user)
            return redirect("itsm:desk")
        if op != "update":
            raise ValidationFailed("Say update or delete.", field="op")
        fields: dict[str, Any] = {"query": QueryDict(request.POST.get("query", ""))}
        if request.POST.getlist("cols"):
            fields["columns"] = request.POST.getlist("cols")
        view = views_service.saved_view_update(view=view, actor=request.user, **fields)
        return redirect(_view_url(view))


def _view_url(view: SavedView) -> str:
    return f"{reverse('itsm:desk')}?{views_service.view_querystring(view)}&view={view.pk}"
