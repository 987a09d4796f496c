"""Request pages: the catalogue and order form (requesters), the request record, the
fulfilment queue (teams) and 'My approvals' (approvers, CAB members)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.concurrency import page_version_checked, page_version_fields
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.export import csv_response, wants_csv
from core.forms import form_data
from core.roles import is_staff_member
from core.selectors import get_by_ref
from core.views import DomainErrorMixin, posted_id, redirect_next
from core.visibility import parts_for
from itsm import permissions, selectors
from itsm.api.request_serializers import REQUEST_TRANSITION_INPUTS
from itsm.api.request_views import decide_any, why_not_decide
from itsm.exports import REQUEST_COLUMNS
from itsm.models import (
    TASK_TRANSITIONS,
    Approval,
    FulfilmentTask,
    RequestStatus,
    ServiceRequest,
)
from itsm.permissions import can_work_request, ensure_can_fire_request
from itsm.services import approvals
from itsm.services import requests as services
from itsm.views.in_place import in_place, posted_reply, refusal_title, reply_kept


class Base(LoginRequiredMixin, DomainErrorMixin, View):
    pass


class CatalogueView(Base):
    def get(self, request: HttpRequest) -> HttpResponse:
        items = list(selectors.catalog_items())
        by_service: dict[str, list[Any]] = {}
        for item in items:
            by_service.setdefault(item.service.name, []).append(item)
        return render(request, "itsm/catalogue.html", {"by_service": by_service})


class OrderView(Base):
    def _item(self, pk: int) -> Any:
        item = selectors.catalog_items().filter(pk=pk).first()
        if item is None:
            raise NotFound("No such catalogue item.")
        return item

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(
            request, "itsm/order.html", {"item": self._item(pk), "answers": {}, "errors": {}}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self._item(pk)
        answers = {f.name: request.POST.get(f.name, "") for f in item.fields.all()}
        try:
            req = services.request_submit(actor=request.user, item=item, answers=answers)
        except ValidationFailed as exc:
            return render(
                request,
                "itsm/order.html",
                {
                    "item": item,
                    "answers": answers,
                    "errors": exc.errors,
                    "message": exc.message,
                },
                status=400,
            )
        return redirect(req.get_absolute_url())


class RequestListView(Base):
    """Staff: the fulfilment queue of their teams, or all. Requesters: their own."""

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = selectors.request_list(request.user)
        show = request.GET.get("show", "open")
        if not is_staff_member(request.user):
            qs = qs.filter(requester=request.user)
        elif show == "mine":
            from itsm.permissions import user_team_ids

            qs = qs.filter(team_id__in=user_team_ids(request.user))
        if show != "all":
            qs = qs.exclude(
                status__in=[RequestStatus.CLOSED, RequestStatus.CANCELLED, RequestStatus.REJECTED]
            )
        if wants_csv(request):
            return csv_response(qs.order_by("-created_at", "-id"), REQUEST_COLUMNS, "requests")
        page = Paginator(qs.order_by("-created_at", "-id"), 25).get_page(request.GET.get("page"))
        return render(request, "itsm/requests.html", {"page": page, "show": show})


def _request_for_page(user: Any, ref: str | int) -> Any:
    """``selectors.request_get`` shaped for the page: its tasks with their assignees (the
    task table names them) and without the SLA clocks and their calendars, which the
    request page does not show (the API does): four queries fewer."""
    qs = (
        selectors.request_list(user)
        .prefetch_related(None)
        .prefetch_related(
            Prefetch("tasks", queryset=FulfilmentTask.objects.select_related("assignee"))
        )
    )
    return get_by_ref(qs, ServiceRequest.KEY_PREFIX, ref, "request")


def _detail(request: HttpRequest, req: Any, **extra: Any) -> dict[str, Any]:
    user = request.user
    labels = {t.name: t.custom["label"] for t in req.get_available_status_transitions()}
    names = selectors.request_transitions_for(user, req)
    fields = {f.name: f for f in req.item.fields.all()}
    timeline = selectors.request_timeline(user, req)
    context = {
        "req": req,
        "staff": is_staff_member(user),
        "answers": [(fields[k].label if k in fields else k, v) for k, v in req.answers.items()],
        "transitions": [{"name": n, "label": labels[n]} for n in names],
        "approvals": approvals.approvals_of(req),
        "tasks": req.tasks.all(),  # prefetched with their assignees (_request_for_page)
        "can_work": can_work_request(user, req) and req.status == RequestStatus.FULFILLING,
        "can_reply": permissions.can_reply_request(user, req),
        "can_note": permissions.can_note_request(user, req),
        "task_transitions": TASK_TRANSITIONS,
        # newest first, under the reply box at the top of the activity (as on incidents)
        "timeline": timeline[::-1],
        "parts": parts_for(user, req),
        # the version the forms were rendered from, sent back (core.concurrency)
        **page_version_fields(req, timeline),
    }
    context.update(extra)
    return context


# The request page works in place as the incident page does (itsm.views.in_place): the GET
# and every action render one region, itsm/_request_ticket.html.
def render_request(
    request: HttpRequest, req: Any, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The request page, or only its region for an HTMX request aimed at it."""
    template = "itsm/_request_ticket.html" if in_place(request) else "itsm/request_detail.html"
    return render(request, template, _detail(request, req, **extra), status=status)


def _after_action(request: HttpRequest, req: Any) -> HttpResponse:
    if in_place(request):
        return render_request(request, _request_for_page(request.user, req.pk))
    return redirect(req.get_absolute_url())


def _refused(request: HttpRequest, req: Any, exc: DomainError, **extra: Any) -> HttpResponse:
    """Said at the top of the region (or the page), with the error's own status."""
    req = _request_for_page(request.user, req.pk)
    return render_request(
        request,
        req,
        status=exc.status_code,
        region_message=extra.pop("region_message", exc.message),
        refusal_title=refusal_title(exc),
        **extra,
    )


class RequestDetailView(Base):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        req = _request_for_page(request.user, ref)
        return render_request(request, req)


class RequestTransitionView(Base):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        req = selectors.request_get(request.user, ref)
        try:
            if name not in REQUEST_TRANSITION_INPUTS:
                raise NotFound(f"No transition '{name}'.")
            # a form rendered before someone else's change is refused, saying what changed
            with page_version_checked(request, req):
                ensure_can_fire_request(request.user, req, name)
                body = REQUEST_TRANSITION_INPUTS[name](data=form_data(request.POST))
                if not body.is_valid():
                    raise ValidationFailed("Check the form.", errors=body.errors)
                services.REQUEST_TRANSITION_SERVICES[name](
                    request=req, actor=request.user, **body.validated_data
                )
        except DomainError as exc:
            return _refused(request, req, exc)
        return _after_action(request, req)


class TaskTransitionView(Base):
    def post(self, request: HttpRequest, ref: str, task_id: int, name: str) -> HttpResponse:
        req = selectors.request_get(request.user, ref)
        try:
            task = req.tasks.filter(pk=task_id).first()
            if task is None or name not in TASK_TRANSITIONS:
                raise NotFound("No such task or action.")
            services.task_transition(
                task=task, actor=request.user, name=name, notes=request.POST.get("notes", "")
            )
        except DomainError as exc:
            return _refused(request, req, exc)
        return _after_action(request, req)


class RequestCommentView(Base):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        req = selectors.request_get(request.user, ref)
        body, visibility = posted_reply(request)
        try:
            services.request_comment(
                request=req, actor=request.user, body=body, public=visibility == "public"
            )
        except DomainError as exc:
            kept = reply_kept(exc, body, visibility)
            return _refused(request, req, exc, region_message="", **kept)
        return _after_action(request, req)


class ApprovalsView(Base):
    """What awaits my decision: requests and changes (the CAB board for one person)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = list(approvals.pending_for(request.user).order_by("created_at", "id"))
        for a in pending:  # offer Approve/Reject only where the decide service would take it
            a.blocker = why_not_decide(a, request.user)
        return render(request, "itsm/approvals.html", {"pending": pending})

    def post(self, request: HttpRequest) -> HttpResponse:
        approval = Approval.objects.filter(pk=posted_id(request, "approval")).first()
        if approval is None or not approvals.may_decide(request.user, approval):
            raise NotFound("No such approval for you.")
        decide_any(
            approval,
            request.user,
            request.POST.get("decision", ""),
            request.POST.get("comment", ""),
        )
        return redirect_next(request, "itsm:approvals")
