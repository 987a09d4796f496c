"""Knowledge pages: browse and search, read, write with a preview, history with diffs,
review what is flagged, and suggestions while an incident is being typed."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from core.concurrency import StaleVersion, page_version_checked, page_version_fields
from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.ids import parse_id
from core.markdown import render_markdown
from core.models import Service
from core.params import parse_day
from core.roles import is_staff_member
from core.views import DomainErrorMixin
from core.visibility import parts_for
from itsm import selectors as itsm_selectors
from knowledge import permissions, selectors, services
from knowledge.filters import ArticleFilter
from knowledge.models import ARTICLE_TRANSITIONS, Article, ArticleStatus, Audience, Tag
from knowledge.search import search, snippet_of


class Base(LoginRequiredMixin, DomainErrorMixin, View):
    pass


def _results(request: HttpRequest, text: str, limit: int = 100) -> list[Any]:
    """The search page's rows: the filters of the API; published articles unless staff
    pick a status."""
    qs = selectors.article_list(request.user)
    params = request.GET.copy()
    if params.get("status") == "any" and is_staff_member(request.user):
        params.pop("status")
    elif not is_staff_member(request.user) or not params.get("status"):
        params.setlist("status", ["published"])
    params["q"] = text
    filterset = ArticleFilter(params, queryset=qs, request=request)
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise ValidationFailed(f"{field}: {' '.join(errors)}", field=field)
    rows = list(filterset.qs[:limit])
    _snippets(rows, text)
    return rows


def _snippets(rows: list[Any], text: str) -> None:
    for a in rows:
        a.snippet_html = snippet_of(a, text) if text else escape(a.body[:200])


def suggestions(user: Any, text: str, limit: int = 3, *, with_labels: bool = True) -> list[Any]:
    """Published articles matching what someone types about their trouble (any word);
    ``with_labels=False`` leaves out their services and tags (two queries) for a list
    that shows only keys and titles."""
    if len(text.strip()) < 3:
        return []
    qs = selectors.article_list(user).filter(status="published")
    if not with_labels:
        qs = qs.prefetch_related(None)
    rows = list(search(qs, text, match="any")[:limit])
    _snippets(rows, text)
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
                "tags": Tag.objects.filter(
                    articles__in=selectors.article_list(request.user)
                ).distinct(),
                "audiences": Audience.choices if is_staff_member(request.user) else [],
                "statuses": ArticleStatus.choices if is_staff_member(request.user) else [],
                "staff": is_staff_member(request.user),
            },
        )


class SuggestView(Base):
    """HTMX: articles matching what is being typed in a new incident."""

    def get(self, request: HttpRequest) -> HttpResponse:
        text = request.GET.get("title") or request.GET.get("q") or ""
        rows = suggestions(request.user, text)
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
        parts = parts_for(request.user, article)
        timeline = parts.timeline(article)
        return render(
            request,
            "knowledge/detail.html",
            {
                "article": article,
                "html": render_markdown(article.body),
                "staff": staff,
                "transitions": transitions,
                "q": request.GET.get("q", ""),
                "timeline": timeline,
                "parts": parts,
                # the version the forms were rendered from, sent back (core.concurrency)
                **page_version_fields(article, timeline),
                "problem_incidents": (
                    list(article.problem.incidents.order_by("-id")[:20])
                    if staff and article.problem_id
                    else []
                ),
            },
        )


def _form_values(request: HttpRequest) -> dict[str, Any]:
    """The article form as the service takes it; a bad date or service is a 400 that
    keeps what was typed (``ValidationFailed.values``)."""
    values: dict[str, Any] = {
        "title": request.POST.get("title", ""),
        "body": request.POST.get("body", ""),
        "audience": request.POST.get("audience", Audience.INTERNAL),
        "review_by": None,
        "services": [],
        "tags": [t for t in request.POST.get("tags", "").split(",") if t.strip()],
    }
    raw_ids = request.POST.getlist("services")
    if not all(parse_id(i) for i in raw_ids):
        raise _FormError(values, ValidationFailed("Pick services from the list.", field="services"))
    values["services"] = list(Service.objects.filter(pk__in=raw_ids))
    if len(values["services"]) != len(set(raw_ids)):
        raise _FormError(values, ValidationFailed("A service is unknown.", field="services"))
    try:
        values["review_by"] = _date_field(request, "review_by")
    except ValidationFailed as exc:
        raise _FormError(values, exc) from None
    return values


def _date_field(request: HttpRequest, name: str) -> date | None:
    """An optional date from the posted form; anything but YYYY-MM-DD is a 400."""
    return parse_day(request.POST.get(name), name)


class _FormError(Exception):
    def __init__(self, values: dict[str, Any], error: ValidationFailed) -> None:
        self.values, self.error = values, error


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
                # the version the form was rendered from, sent back (core.concurrency)
                **(
                    page_version_fields(article, parts_for(request.user, article).timeline(article))
                    if article is not None
                    else {}
                ),
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
        article = selectors.article_get(request.user, ref) if ref else None
        try:
            values = _form_values(request)
        except _FormError as bad:
            return self._page(request, article, bad.values, bad.error, status=400)
        try:
            if article is None:
                article = services.article_create(actor=request.user, **values)
            else:
                # a form rendered before someone else's edit is refused, saying what changed
                with page_version_checked(request, article):
                    article = services.article_update(
                        article=article,
                        actor=request.user,
                        note=request.POST.get("note", ""),
                        **values,
                    )
        except StaleVersion as exc:  # the text kept, to send again from the version now
            article = selectors.article_get(request.user, ref)
            return self._page(request, article, values, exc, status=exc.status_code)
        except ValidationFailed as exc:
            return self._page(request, article, values, exc, status=400)
        return redirect(article.get_absolute_url())


class PreviewView(Base):
    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_staff_member(request.user):
            raise ActionForbidden("Articles are written by support and development staff.")
        return HttpResponse(render_markdown(request.POST.get("body", "")))


class ArticleTransitionView(Base):
    def post(self, request: HttpRequest, ref: str, name: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        if name not in ARTICLE_TRANSITIONS:
            raise NotFound(f"No transition '{name}'.")
        with page_version_checked(request, article):  # a stale button: 409, what changed
            services.article_transition(
                article=article,
                actor=request.user,
                name=name,
                comment=request.POST.get("comment", ""),
            )
        return redirect(_back(request, article))


class SolvedView(Base):
    """'This solved it': a deflection, or (from an incident) a link to it."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        incident = None
        if request.POST.get("incident"):
            incident = itsm_selectors.incident_get(request.user, request.POST["incident"])
        # From the incident form the button sends the form, so the typed title is the query.
        query = request.POST.get("q") or request.POST.get("title", "")
        services.article_used(article=article, actor=request.user, incident=incident, query=query)
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
            old.as_lines(),
            new.as_lines(),
            f"v{a}",
            f"v{b}",
            context=True,
        )
        return render(
            request,
            "knowledge/history.html",
            {
                "article": article,
                "versions": versions,
                "a": a,
                "b": b,
                "diff": diff,
                # the version the Restore buttons were rendered from (core.concurrency)
                **page_version_fields(article, parts_for(request.user, article).timeline(article)),
            },
        )


class ReviewView(Base):
    """Flagged articles (a release changed their service, or their review date passed),
    grouped by owner or by service, with *Still holds* beside each."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not is_staff_member(request.user):
            raise NotFound("No such page.")
        flagged = (
            selectors.article_list(request.user)
            .filter(needs_review=True)
            .select_related("review_release__project")
        )
        if request.GET.get("owner") == "me":
            flagged = flagged.filter(owner=request.user)
        by = "service" if request.GET.get("by") == "service" else "owner"
        rows = list(flagged.order_by("owner__username", "title"))
        groups: dict[str, list[Any]] = {}
        for a in rows:
            if by == "owner":
                keys = [a.owner.get_full_name() or a.owner.username]
            else:
                keys = [s.name for s in a.services.all()] or ["No service"]
            for key in keys:
                groups.setdefault(key, []).append(a)
        waiting = (
            selectors.article_list(request.user).filter(status="in_review").order_by("updated_at")
        )
        return render(
            request,
            "knowledge/review.html",
            {
                "waiting": waiting,
                "review_actions": [("publish", "Publish"), ("rework", "Back to draft")],
                "groups": sorted(groups.items()),
                "by": by,
                "mine": request.GET.get("owner") == "me",
                "count": len(rows),
            },
        )


def _back(request: HttpRequest, article: Any) -> str:
    """Where a button sends the user back to: ``next`` when it is on this site."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return article.get_absolute_url()


class RestoreView(Base):
    """History → *Restore this version* (a new version with the old content)."""

    def post(self, request: HttpRequest, ref: str, number: int) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        with page_version_checked(request, article):  # restored over a newer edit: 409
            services.article_restore(article=article, actor=request.user, number=number)
        return redirect(article.get_absolute_url())


class MarkReviewedView(Base):
    """*Still holds*: the flag goes; a next review date may be set."""

    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        article = selectors.article_get(request.user, ref)
        review_by = _date_field(request, "review_by")
        with page_version_checked(request, article):  # updated since the flag was shown: 409
            services.article_mark_reviewed(
                article=article,
                actor=request.user,
                review_by=review_by,
                comment=request.POST.get("comment", ""),
            )
        return redirect(_back(request, article))


def incident_panel(request: HttpRequest, incident: Any) -> dict[str, Any] | None:
    """On an incident (staff): its problem's known-error article, the articles linked to
    it, and the ones its title matches, to link."""
    if not is_staff_member(request.user):
        return None
    known_error = (
        Article.objects.filter(problem_id=incident.problem_id, status="published").first()
        if getattr(incident, "problem_id", None)
        else None
    )
    linked = list(incident.articles_used.select_related("article"))
    shown = {u.article_id for u in linked} | ({known_error.pk} if known_error else set())
    found = suggestions(request.user, incident.title, limit=4, with_labels=False)
    rows = [a for a in found if a.pk not in shown]
    return {
        "articles": rows[:3],
        "linked": linked,
        "known_error": known_error,
        "incident": incident,
        "can_link": permissions.can_link_to_incident(request.user, incident),
    }


def _id_param(request: HttpRequest, name: str) -> int | None:
    """A numeric id from the query string; anything else is a 400, not a 500."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise ValidationFailed(f"'{name}' is an id (a whole number).", field=name)
    return value


class ReleaseNotesView(Base):
    """Release notes, browsable from the knowledge base: every release in progress or
    live, newest first, per service, with the articles its go-live flagged."""

    def get(self, request: HttpRequest) -> HttpResponse:
        from projects import selectors as project_selectors

        if not is_staff_member(request.user):
            raise NotFound("No such page.")
        releases = (
            project_selectors.releases_with_notes(request.user)
            .prefetch_related("project__services", "articles_flagged")
            .order_by(F("went_live_at").desc(nulls_first=True), "-planned_date", "-pk")
        )
        service = _id_param(request, "service")
        if service is not None:
            releases = releases.filter(project__services=service)
        release = _id_param(request, "release")  # one release, linked from a flag
        if release is not None:
            releases = releases.filter(pk=release)
        text = request.GET.get("q", "").strip()[:100]
        if text:
            from projects.models import WORK_DONE_STATES

            releases = releases.filter(
                Q(version__icontains=text)
                | Q(name__icontains=text)
                | Q(notes__icontains=text)
                | Q(project__name__icontains=text)
                # what the notes list: items done in it, not merely targeted at it
                | Q(fixed_items__title__icontains=text, fixed_items__status__in=WORK_DONE_STATES)
            ).distinct()
        page = Paginator(releases, 10).get_page(request.GET.get("page"))
        notes = project_selectors.release_notes_for(list(page))
        entries = [(r, notes[r.pk]) for r in page]
        params = request.GET.copy()
        params.pop("page", None)
        return render(
            request,
            "knowledge/releases.html",
            {
                "entries": entries,
                "page": page,
                "services": Service.objects.filter(is_active=True),
                "service": str(service or ""),
                "q": text,
                "querystring": params.urlencode(),
            },
        )
