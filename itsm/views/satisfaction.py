"""Pages of the satisfaction question: the page an e-mail link opens (no sign-in: the
signed token is the proof), the answer posted from the portal's ticket page, and the
report per team, service and agent. Every answer goes through ``satisfaction_answer``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.exceptions import ActionForbidden, ValidationFailed
from core.views import DomainErrorMixin
from itsm import selectors
from itsm.models import SatisfactionResponse
from itsm.models.satisfaction import COMMENT_MAX_CHARS
from itsm.satisfaction_report import (
    GROUPS,
    can_view_satisfaction_report,
    latest_comments,
    parse_period,
    satisfaction_answers,
    satisfaction_report,
)
from itsm.services.satisfaction import (
    current_question,
    satisfaction_answer,
    satisfaction_from_token,
)

ANSWERS = {"yes": True, "no": False}


def _answer_page(
    request: HttpRequest,
    question: SatisfactionResponse,
    *,
    action: str,
    chosen: str = "",
    comment: str = "",
    error: ValidationFailed | None = None,
    done: bool = False,
) -> HttpResponse:
    context: dict[str, Any] = {
        "question": question,
        "ticket": question.ticket,
        "action": action,
        "chosen": chosen,
        "comment": comment,
        "error": error,
        "done": done,
        "max_chars": COMMENT_MAX_CHARS,
    }
    return render(request, "itsm/satisfaction_answer.html", context, status=400 if error else 200)


def _posted(request: HttpRequest) -> tuple[str, str, bool | None]:
    chosen = request.POST.get("satisfied", "")
    return chosen, request.POST.get("comment", ""), ANSWERS.get(chosen)


class SatisfactionLinkView(DomainErrorMixin, View):
    """The page a "Yes" / "No" link opens. A GET only shows the question with the answer
    chosen, so a mail scanner that follows links answers nothing; the requester confirms
    (and may add a comment) with one click."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        question = satisfaction_from_token(token)
        chosen = request.GET.get("answer", "")
        if question.answered_at is not None and chosen not in ANSWERS:
            chosen = "yes" if question.satisfied else "no"
        return _answer_page(
            request,
            question,
            action=request.path,
            chosen=chosen if chosen in ANSWERS else "",
            comment=question.comment,
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        question = satisfaction_from_token(token)
        chosen, comment, satisfied = _posted(request)
        try:
            answered = satisfaction_answer(
                ticket=question.ticket,
                actor_or_token=token,
                satisfied=satisfied,  # type: ignore[arg-type]
                comment=comment,
            )
        except ValidationFailed as exc:  # the form stays as posted, with what to change
            return _answer_page(
                request, question, action=request.path, chosen=chosen, comment=comment, error=exc
            )
        return _answer_page(request, answered, action=request.path, done=True)


class SatisfactionAnswerView(LoginRequiredMixin, DomainErrorMixin, View):
    """The requester answers on their resolved ticket's page (``itsm/_satisfaction.html``)."""

    def post(self, request: HttpRequest, kind: str, ref: str) -> HttpResponse:
        get = selectors.incident_get if kind == "incident" else selectors.request_get
        ticket = get(request.user, ref)
        chosen, comment, satisfied = _posted(request)
        try:
            satisfaction_answer(
                ticket=ticket,
                actor_or_token=request.user,
                satisfied=satisfied,  # type: ignore[arg-type]
                comment=comment,
            )
        except ValidationFailed as exc:
            question = current_question(ticket)
            if question is None:
                raise
            return _answer_page(
                request, question, action=request.path, chosen=chosen, comment=comment, error=exc
            )
        return redirect(f"{ticket.get_absolute_url()}#satisfaction")


class SatisfactionReportPage(LoginRequiredMixin, DomainErrorMixin, View):
    """Answers per team, per service and per agent over a period, with the latest
    comments; scoped to what the user answers for (``satisfaction_scope``)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not can_view_satisfaction_report(request.user):
            raise ActionForbidden(
                "The satisfaction report is for Incident Managers, team leads and administrators."
            )
        period = parse_period(request.GET)
        answers = satisfaction_answers(request.user)
        tables = [
            (group, satisfaction_report(answers, group=group, period=period)) for group in GROUPS
        ]
        return render(
            request,
            "itsm/satisfaction_report.html",
            {
                "tables": tables,
                "comments": latest_comments(answers, period=period),
                "since": period.since,
                "until": period.last_day,
            },
        )
