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

from core.exceptions import ActionForbidden, ValidationFailed
from core.extensions import panels_for
from core.models import Team, Tier
from core.roles import is_staff_member
from core.views import DomainErrorMixin
from core.visibility import parts_for
from itsm import selectors, services
from itsm.api.serializers import TRANSITION_INPUTS
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
        return render(request, "itsm/incident_detail.html", _detail_context(request, incident))


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
    context: dict[str, Any] = {
        "incident": incident,
        "staff": staff,
        "timeline": selectors.incident_timeline(user, incident),
        "parts": parts_for(user, incident),
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
        "clocks": ticket_clocks(incident),
        "panels": panels_for("incident_detail", request, incident),
        "status_line": requester_status_line(incident),
    }
    if staff:
        context["teams"] = Team.objects.prefetch_related("members").order_by("tier", "name")
        context["next_team"] = incident.service.team_for_tier(incident.tier + 1)
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
    return context


class IncidentTransitionView(LoginRequiredMixin, DomainErrorMixin, View):
    """Fire a transition from its button's form; the body is validated like the API's."""

    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        if name not in TRANSITION_INPUTS:
            raise ActionForbidden(f"No transition '{name}'.")
        ensure_can_fire(request.user, incident, name)
        data = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken" and v != ""}
        body = TRANSITION_INPUTS[name](data=data)
        if not body.is_valid():
            context = _detail_context(
                request, incident, form_errors=body.errors, open_form=name, posted=data
            )
            return render(request, "itsm/incident_detail.html", context, status=400)
        try:
            services.TRANSITION_SERVICES[name](
                incident=incident, actor=request.user, **body.validated_data
            )
        except ValidationFailed as exc:
            # e.g. an assignee from another team: the form stays open, as posted, and says
            # what to change (not a bare error page with the form lost)
            context = _detail_context(
                request,
                incident,
                form_errors=exc.errors,
                form_message=exc.message,
                open_form=name,
                posted=data,
            )
            return render(request, "itsm/incident_detail.html", context, status=400)
        return _redirect_to(incident)


class IncidentTakeView(LoginRequiredMixin, DomainErrorMixin, View):
    """*Assign to me*, one click from the queue row or the ticket page: back where the
    click came from (``next``, this site only), else the ticket."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        from core.views import redirect_next

        incident = selectors.incident_get(request.user, ref)
        services.incident_take(incident=incident, actor=request.user)
        return redirect_next(request, reverse("itsm:incident_detail", args=[incident.key]))


class IncidentCommentView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        public = request.POST.get("visibility", "public") == "public"
        services.incident_comment(
            incident=incident,
            actor=request.user,
            body=request.POST.get("body", ""),
            public=public,
        )
        if request.htmx:
            incident = selectors.incident_get(request.user, incident.pk)
            return render(request, "itsm/_timeline.html", _detail_context(request, incident))
        return _redirect_to(incident)


class IncidentEditView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        form = IncidentEditForm(request.POST)
        if not form.is_valid():
            context = _detail_context(request, incident, edit_form=form, open_form="edit")
            return render(request, "itsm/incident_detail.html", context, status=400)
        services.incident_update(incident=incident, actor=request.user, **form.cleaned_data)
        return HttpResponseRedirect(reverse("itsm:incident_detail", args=[incident.key]))
