"""Pages: the requester portal, the agent desk and the incident page. Every write calls
the same service as the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from core.concurrency import page_version_checked, page_version_fields
from core.exceptions import ActionForbidden, DomainError
from core.export import csv_response, wants_csv
from core.extensions import panels_for
from core.forms import NOT_FIELDS
from core.models import Team, Tier
from core.roles import is_staff_member
from core.selectors import team_members
from core.views import DomainErrorMixin
from core.visibility import parts_for
from itsm import selectors, services
from itsm.api.serializers import TRANSITION_INPUTS
from itsm.exports import INCIDENT_COLUMNS
from itsm.forms import IncidentEditForm, IncidentForm
from itsm.models import HoldReason, Incident, IncidentStatus, ResolutionCode
from itsm.permissions import (
    can_edit_incident,
    can_link_cause,
    can_link_to_problem,
    can_note_incident,
    can_reply_incident,
    can_take,
    ensure_can_fire,
)
from itsm.status import requester_status_line
from itsm.views.desk import DeskView  # noqa: F401  (its old home; the desk lives in desk.py)
from itsm.views.in_place import in_place, posted_reply, refusal_title, reply_kept
from sla.selectors import ticket_clocks

PAGE_SIZE = 25


def _redirect_to(incident: Incident) -> HttpResponseRedirect:
    return redirect("itsm:incident_detail", ref=incident.key)


class PortalView(LoginRequiredMixin, View):
    """The requester's own incidents."""

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = selectors.incident_list(request.user).filter(requester=request.user)
        show = request.GET.get("show", "open")
        if show == "open":
            qs = qs.exclude(status__in=[IncidentStatus.CLOSED, IncidentStatus.CANCELLED])
        if wants_csv(request):
            return csv_response(qs.order_by("-created_at", "-id"), INCIDENT_COLUMNS, "my-incidents")
        page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return render(request, "itsm/portal.html", {"page": page, "show": show})


class IncidentCreateView(LoginRequiredMixin, DomainErrorMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = IncidentForm(staff=is_staff_member(request.user))
        return render(request, "itsm/incident_form.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IncidentForm(request.POST, staff=is_staff_member(request.user))
        if not form.is_valid():
            return render(request, "itsm/incident_form.html", {"form": form}, status=400)
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        incident = services.incident_create(actor=request.user, **data)
        return _redirect_to(incident)


class IncidentDetailView(LoginRequiredMixin, DomainErrorMixin, View):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        return render_ticket(request, incident)


# --- the ticket region ----------------------------------------------------------------------
# Every action on the incident page posts with HTMX and is answered with the page's ticket
# region (itsm/_incident_ticket.html: chips, actions, SLA panel, fields, watchers,
# attachments, reply box and timeline) from ``render_ticket``, the one function the GET
# shares, so the region can never drift from the page. Without JavaScript the same views
# answer a plain POST with a redirect to the page.
def render_ticket(
    request: HttpRequest, incident: Incident, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The incident page, or only its ticket region for an HTMX request aimed at it; a
    refused action passes the open form, what was posted and the message in ``extra``
    with its 4xx ``status``."""
    template = "itsm/_incident_ticket.html" if in_place(request) else "itsm/incident_detail.html"
    return render(request, template, _detail_context(request, incident, **extra), status=status)


def _after_action(request: HttpRequest, incident: Incident) -> HttpResponse:
    """A successful action: the region re-read from the database (the new state, the
    actions it allows, the new timeline rows), or the page again without JavaScript."""
    if in_place(request):
        return render_ticket(request, selectors.incident_get(request.user, incident.pk))
    return _redirect_to(incident)


def _refused(
    request: HttpRequest, incident: Incident, exc: DomainError, **extra: Any
) -> HttpResponse:
    """A refused action keeps its form open, as posted, and says what to change, with the
    error's own status (400, 403, 409): on the page, and in the region with HTMX."""
    incident = selectors.incident_get(request.user, incident.pk)  # as it is, not as tried
    extra.setdefault("form_errors", exc.errors)
    title = refusal_title(exc)
    return render_ticket(
        request,
        incident,
        status=exc.status_code,
        form_message=exc.message,
        refusal_title=title,
        **extra,
    )


def _detail_context(request: HttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    user = request.user
    staff = is_staff_member(user)
    transitions = [
        {
            "name": t,
            "label": next(
                x.custom["label"]
                for x in incident.get_available_status_transitions()
                if x.name == t
            ),
        }
        for t in selectors.incident_transitions_for(user, incident)
    ]
    parts = parts_for(user, incident)
    timeline = parts.timeline(incident)
    context: dict[str, Any] = {
        "incident": incident,
        "staff": staff,
        # newest first, under the reply box at the top of the activity (as JSM shows it);
        # what selectors.incident_timeline reads, with the parts decided once
        "timeline": timeline[::-1],
        # the version the forms were rendered from, sent back (core.concurrency)
        **page_version_fields(incident, timeline),
        "parts": parts,
        "transitions": transitions,
        "can_edit": can_edit_incident(user, incident) and incident.is_open,
        "can_take": can_take(user, incident),
        "can_reply": can_reply_incident(user, incident),
        "can_note": can_note_incident(user, incident),
        "can_link_problem": can_link_to_problem(user, incident),
        "can_link_cause": can_link_cause(user, incident),
        "hold_reasons": HoldReason.choices,
        "resolution_codes": ResolutionCode.choices,
        "form_errors": {},
        "open_form": "",
        "tiers": dict(Tier.choices),
        "clocks": ticket_clocks(incident, events=parts.sla_events),
        "panels": panels_for("incident_detail", request, incident),
        "status_line": requester_status_line(incident),
    }
    if staff:
        # the Assign and Escalate forms offer active teams (core.retire); a retired team
        # the incident is with shows as "keep", not as a choice
        teams = list(Team.objects.filter(is_active=True).order_by("tier", "name"))
        context["teams"] = teams
        context["team_members"] = team_members()  # the Assign form's people, as values
        context["next_team"] = _team_for_tier(incident, incident.tier + 1, teams)
        context["edit_form"] = IncidentEditForm(
            initial={
                "title": incident.title,
                "service": incident.service_id,
                "category": incident.category,
                "impact": incident.impact,
                "urgency": incident.urgency,
                "major_incident": incident.major_incident,
            }
        )
    context.update(extra)
    # A refusal whose form is not on the page (a transition the state no longer offers,
    # a take) says why at the top of the region instead.
    shown_forms = {t["name"] for t in transitions} | ({"edit"} if context["can_edit"] else set())
    shown_forms.add("comment")
    context["region_message"] = (
        context.get("form_message", "") if context["open_form"] not in shown_forms else ""
    )
    return context


def _team_for_tier(incident: Incident, tier: int, teams: list[Team]) -> Team | None:
    """``incident.service.team_for_tier(tier)``, found in the teams the page reads anyway
    rather than by one more query."""
    service = incident.service
    team_id = {
        Tier.APPLICATION_SUPPORT: service.support_team_id,
        Tier.DEVELOPMENT: service.development_team_id,
    }.get(tier)
    return next((t for t in teams if t.pk == team_id), None) if team_id else None


class IncidentTransitionView(LoginRequiredMixin, DomainErrorMixin, View):
    """Fire a transition from its button's form; the body is validated like the API's."""

    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        data = {k: v for k, v in request.POST.items() if k not in NOT_FIELDS and v != ""}
        kept = {"open_form": name, "posted": data}
        try:
            if name not in TRANSITION_INPUTS:
                raise ActionForbidden(f"No transition '{name}'.")
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, incident):
                ensure_can_fire(request.user, incident, name)
                body = TRANSITION_INPUTS[name](data=data)
                if not body.is_valid():
                    return render_ticket(
                        request, incident, status=400, form_errors=body.errors, **kept
                    )
                services.TRANSITION_SERVICES[name](
                    incident=incident, actor=request.user, **body.validated_data
                )
        except DomainError as exc:
            # e.g. an assignee from another team: the form stays open, as posted, and says
            # what to change (not a bare error page with the form lost)
            return _refused(request, incident, exc, **kept)
        return _after_action(request, incident)


class IncidentTakeView(LoginRequiredMixin, DomainErrorMixin, View):
    """*Assign to me*, one click from the queue row or the ticket page: back where the
    click came from (``next``, this site only), else the ticket; on the ticket page with
    HTMX, the region."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        from core.views import redirect_next

        incident = selectors.incident_get(request.user, ref)
        # a button rendered before someone else took (or changed) the ticket is refused,
        # saying who: not a silent reassignment away from them
        if not in_place(request):
            with page_version_checked(request, incident):
                services.incident_take(incident=incident, actor=request.user)
            return redirect_next(request, reverse("itsm:incident_detail", args=[incident.key]))
        try:
            with page_version_checked(request, incident):
                services.incident_take(incident=incident, actor=request.user)
        except DomainError as exc:
            return _refused(request, incident, exc, open_form="take")
        return _after_action(request, incident)


class IncidentCommentView(LoginRequiredMixin, DomainErrorMixin, View):
    """A public reply or an internal note from the reply box at the top of the activity."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        body, visibility = posted_reply(request)
        try:
            services.incident_comment(
                incident=incident, actor=request.user, body=body, public=visibility == "public"
            )
        except DomainError as exc:
            kept = reply_kept(exc, body, visibility)
            return _refused(request, incident, exc, open_form="comment", **kept)
        return _after_action(request, incident)


class IncidentEditView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        form = IncidentEditForm(request.POST)
        if not form.is_valid():
            return render_ticket(request, incident, status=400, edit_form=form, open_form="edit")
        try:
            with page_version_checked(request, incident):
                services.incident_update(incident=incident, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            return _refused(request, incident, exc, edit_form=form, open_form="edit")
        return _after_action(request, incident)
