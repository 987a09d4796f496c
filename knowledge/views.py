"""Knowledge pages: browse and search, read, write with a preview, history with diffs,
review what is flagged, and suggestions while an incident is being typed."""

from __future__ import annotations

import difflib
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.views import View

from core.exceptions import ActionForbidden, NotFound
from core.models import Service
from core.roles import is_staff_member
from core.selectors import timeline_of
from core.views import DomainErrorMixin
from itsm import selectors as itsm_selectors
from knowledge import selectors, services
from knowledge.models import ARTICLE_TRANSITIONS, Audience, Tag
from knowledge.render import render_markdown
from knowledge.search import search, snippet_of


class Base(LoginRequiredMixin, DomainErrorMixin, View):
    pass


def _results(request: HttpRequest, text: str, limit: int | None = None) -> list[Any]:
    qs = selectors.article_list(request.user)
    if not is_staff_member(request.user) or request.GET.get("status") != "all":
        qs = qs.filter(status="published")
    for name in ("service", "audience"):
        if request.GET.get(name):
            qs = qs.filter(
                **(
                    {"services": request.GET[name]}
                    if name == "service"
                    else {"audience": request.GET[name]}
                )
            )
    if request.GET.get("tag"):
        qs = qs.filter(tags__name=request.GET["tag"])
    qs = search(qs, text)
    rows = list(qs[:limit] if limit else qs[:100])
    for a in rows:
        a.snippet_html = snippet_of(a, text) if text else escape(a.body[:200])
    return rows


class ArticleListView(Base):
    def get(self, request: HttpRequest) -> HttpResponse:
        text = request.GET.get("q", "")
        return render(
            request,
            "knowledge/list.html",
            {
                "articles": _results(request, text),
                "q": text,
                "services": Service.objects.filter(is_active=True),
                "tags": Tag.objects.all(),
                "audiences": Audience.choices if is_staff_member(request.user) else [],
                "staff": is_staff_member(request.user),
            },
        )


class SuggestView(Base):
    """HTMX: articles matching what is being typed in a new incident."""

    def get(self, request: HttpRequest) -> HttpResponse:
        text = request.GET.get("title") or request.GET.get("q") or ""
        rows = _results(request, text, limit=3) if len(text.strip()) >= 3 else []
        return render(request, "knowledge/_suggestions.html", {"articles": rows, "q": text})


class ArticleDetailView(Base):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        staff = is_staff_member(request.user)
        transitions = (
            [t for t in article.get_available_status_transitions() if t.name in ARTICLE_TRANSITIONS]
            if staff
            else []
        )
        return render(
            request,
            "knowledge/detail.html",
            {
                "article": article,
                "html": render_markdown(article.body),
                "staff": staff,
                "transitions": transitions,
                "q": request.GET.get("q", ""),
                "timeline": timeline_of(article, internal=True) if staff else [],
            },
        )


def _form_values(request: HttpRequest) -> dict[str, Any]:
    from datetime import date

    from core.exceptions import ValidationFailed

    review_by = request.POST.get("review_by") or None
    try:
        review = date.fromisoformat(review_by) if review_by else None
    except ValueError:
        raise ValidationFailed("A date as YYYY-MM-DD.", field="review_by") from None
    return {
        "title": request.POST.get("title", ""),
        "body": request.POST.get("body", ""),
        "audience": request.POST.get("audience", Audience.INTERNAL),
        "review_by": review,
        "services": Service.objects.filter(pk__in=request.POST.getlist("services")),
        "tags": [t for t in request.POST.get("tags", "").split(",") if t.strip()],
    }


class ArticleEditView(Base):
    """New (no ref) or edit; the preview renders exactly what readers will see."""

    def _page(
        self,
        request: HttpRequest,
        article: Any,
        values: dict[str, Any],
        error: Any = None,
        status: int = 200,
    ) -> HttpResponse:
        return render(
            request,
            "knowledge/edit.html",
            {
                "article": article,
                "v": values,
                "error": error,
                "audiences": Audience.choices,
                "services": Service.objects.filter(is_active=True),
                "chosen": [s.pk for s in values.get("services", [])],
            },
            status=status,
        )

    def get(self, request: HttpRequest, ref: str | None = None) -> HttpResponse:
        if not is_staff_member(request.user):
            raise ActionForbidden("Articles are written by support and development staff.")
        article = selectors.article_get(request.user, ref) if ref else None
        values = (
            {
                "title": article.title,
                "body": article.body,
                "audience": article.audience,
                "review_by": article.review_by,
                "services": list(article.services.all()),
                "tags": [t.name for t in article.tags.all()],
            }
            if article
            else {"audience": Audience.INTERNAL, "services": [], "tags": []}
        )
        return self._page(request, article, values)

    def post(self, request: HttpRequest, ref: str | None = None) -> HttpResponse:
        from core.exceptions import ValidationFailed

        article = selectors.article_get(request.user, ref) if ref else None
        values = _form_values(request)
        try:
            if article is None:
                article = services.article_create(actor=request.user, **values)
            else:
                article = services.article_update(
                    article=article, actor=request.user, note=request.POST.get("note", ""), **values
                )
        except ValidationFailed as exc:
            return self._page(request, article, values, exc, status=400)
        return redirect(article.get_absolute_url())


class PreviewView(Base):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(render_markdown(request.POST.get("body", "")))


class ArticleTransitionView(Base):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        if name not in ARTICLE_TRANSITIONS:
            raise NotFound(f"No transition '{name}'.")
        services.article_transition(
            article=article, actor=request.user, name=name, comment=request.POST.get("comment", "")
        )
        return redirect(article.get_absolute_url())


class SolvedView(Base):
    """'This solved it': a deflection, or (from an incident) a link to it."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        incident = None
        if request.POST.get("incident"):
            incident = itsm_selectors.incident_get(request.user, request.POST["incident"])
        services.article_used(
            article=article, actor=request.user, incident=incident, query=request.POST.get("q", "")
        )
        if incident is not None:
            return redirect(incident.get_absolute_url())
        return render(request, "knowledge/solved.html", {"article": article})


class HistoryView(Base):
    def get(self, request: HttpRequest, ref: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        if not is_staff_member(request.user):
            raise NotFound("No history for you.")
        versions = list(article.versions.select_related("author"))
        numbers = [v.number for v in versions]
        try:
            a = int(request.GET.get("a", numbers[-1] if numbers else 1))
            b = int(request.GET.get("b", numbers[0] if numbers else 1))
        except ValueError:
            a, b = (numbers[-1], numbers[0]) if numbers else (1, 1)
        by_number = {v.number: v for v in versions}
        if a not in by_number or b not in by_number:
            raise NotFound("No such version.")
        old, new = by_number[a], by_number[b]
        diff = difflib.HtmlDiff(wrapcolumn=80).make_table(
            f"# {old.title}\n\n{old.body}".splitlines(),
            f"# {new.title}\n\n{new.body}".splitlines(),
            f"v{a}",
            f"v{b}",
            context=True,
        )
        return render(
            request,
            "knowledge/history.html",
            {"article": article, "versions": versions, "a": a, "b": b, "diff": diff},
        )


class ReviewView(Base):
    """Flagged articles (a release changed their service, or their review date passed),
    by owner and service."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not is_staff_member(request.user):
            raise NotFound("No such page.")
        flagged = (
            selectors.article_list(request.user)
            .filter(needs_review=True)
            .order_by("owner__username", "title")
        )
        return render(request, "knowledge/review.html", {"flagged": flagged})


def incident_panel(request: HttpRequest, incident: Any) -> dict[str, Any] | None:
    """On an incident: articles that match it, to link (staff) — the same search."""
    if not is_staff_member(request.user):
        return None
    rows = _results(request, incident.title, limit=3)
    linked = incident.articles_used.select_related("article")
    return {"articles": rows, "linked": linked, "incident": incident}
