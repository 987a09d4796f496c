"""Article search: PostgreSQL full text (weighted title/body, GIN index, ranking,
highlighted snippets), with a plain fallback on SQLite."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils.html import escape

from knowledge.models import Article

VECTOR = SearchVector("title", weight="A", config="english") + SearchVector(
    "body", weight="B", config="english"
)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def refresh_vector(article: Article) -> None:
    """Keep the stored search vector in step with the text (called by the services)."""
    if on_postgres():
        Article.objects.filter(pk=article.pk).update(search_vector=VECTOR)


def search(qs: QuerySet[Article], text: str) -> QuerySet[Article]:
    """Matching articles, best first, each with ``snippet`` (HTML, matches in <mark>)."""
    text = (text or "").strip()
    if not text:
        return qs
    if on_postgres():
        query = SearchQuery(text, search_type="websearch", config="english")
        return (
            qs.filter(search_vector=query)
            .annotate(
                rank=SearchRank(F("search_vector"), query),
                snippet=SearchHeadline(
                    "body",
                    query,
                    config="english",
                    start_sel="<mark>",
                    stop_sel="</mark>",
                    max_words=30,
                    min_words=12,
                ),
            )
            .order_by("-rank", "-used_count", "-id")
        )
    words = [w for w in re.split(r"\W+", text) if len(w) > 2][:6] or [text]
    cond = Q()
    for w in words:
        cond |= Q(title__icontains=w) | Q(body__icontains=w)
    title_hits = sum(
        (
            Case(
                When(title__icontains=w, then=Value(2)),
                default=Value(0),
                output_field=IntegerField(),
            )
            for w in words
        ),
        Value(0),
    )
    return qs.filter(cond).annotate(rank=title_hits).order_by("-rank", "-used_count", "-id")


MARKUP = re.compile(r"[*`#]+|^>\s?", re.MULTILINE)


def _plain(html: str) -> str:
    """A snippet reads as text: Markdown emphasis, headings and code marks go."""
    return MARKUP.sub("", html)


def snippet_of(article: Any, text: str) -> str:
    """The snippet to show: PostgreSQL's headline, or a window around the first match
    (escaped, then marked) on SQLite."""
    if getattr(article, "snippet", None):
        # SearchHeadline returns the body's text with <mark>; the body is Markdown the
        # author wrote, so escape everything but the marks.
        return _plain(
            escape(article.snippet)
            .replace("&lt;mark&gt;", "<mark>")
            .replace("&lt;/mark&gt;", "</mark>")
        )
    body = article.body
    words = [w for w in re.split(r"\W+", text or "") if len(w) > 2]
    pos = min((body.lower().find(w.lower()) for w in words if w.lower() in body.lower()), default=0)
    window = body[max(0, pos - 80) : pos + 160]
    out = escape(window)
    for w in words:
        out = re.sub(f"({re.escape(escape(w))})", r"<mark>\1</mark>", out, flags=re.IGNORECASE)
    return _plain(("…" if pos > 80 else "") + out + ("…" if len(body) > pos + 160 else ""))
