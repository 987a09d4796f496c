"""Article search: PostgreSQL full text (weighted title/body, GIN index, ranking,
highlighted snippets), with a plain fallback on SQLite."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value, When
from django.utils.html import escape

from knowledge.models import Article


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def refresh_vector(article: Article) -> None:
    """Keep the stored search vector in step with the text (called by the services): the
    title weighs most, then tags and services, then the body."""
    if on_postgres():
        filed_under = " ".join(
            [t.name.replace("-", " ") for t in article.tags.all()]
            + [s.name for s in article.services.all()]
        )
        vector = (
            SearchVector("title", weight="A", config="english")
            + SearchVector(Value(filed_under), weight="B", config="english")
            + SearchVector("body", weight="C", config="english")
        )
        Article.objects.filter(pk=article.pk).update(search_vector=vector)


# For the SQLite fallback (PostgreSQL's english configuration has its own list): words
# that would match nearly every article.
_STOP = (
    "the and but for not are was were has have had you your our with this that from they "
    "them when what where which who why how can cannot does did doing all any its into out "
    "off just only very too also than then there here been being will would should could "
    "about after before again get got"
)
STOP_WORDS = frozenset(_STOP.split())


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"\W+", text) if len(w) > 2 and w.lower() not in STOP_WORDS][:12]


def search(qs: QuerySet[Article], text: str, *, match: str = "all") -> QuerySet[Article]:
    """Matching articles, best first, each with ``snippet`` (HTML, matches in <mark>).

    ``match="all"`` is a search box (web-search syntax: every word, "phrases", -not, or);
    ``match="any"`` is for text someone is typing about their trouble (an incident's
    title): any word may match, and the articles matching more of them rank higher."""
    text = (text or "").strip()
    if not text:
        return qs
    if on_postgres():
        if match == "any":
            words = _words(text)
            if not words:
                return qs.none()
            query = SearchQuery(words[0], config="english")
            for w in words[1:]:
                query |= SearchQuery(w, config="english")
        else:
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
    # SQLite: words found in the title count twice, in the body once.
    words = _words(text)[:6]
    if not words:
        return qs.none()
    hits = [Q(title__icontains=w) | Q(body__icontains=w) for w in words]
    cond = hits[0]
    for h in hits[1:]:
        cond = (cond | h) if match == "any" else (cond & h)
    rank = sum(
        (
            Case(When(title__icontains=w, then=Value(2)), default=Value(0))
            + Case(When(body__icontains=w, then=Value(1)), default=Value(0))
            for w in words
        ),
        Value(0),
    )
    return (
        qs.filter(cond)
        .annotate(rank=ExpressionWrapper(rank, output_field=IntegerField()))
        .order_by("-rank", "-used_count", "-id")
    )


MARKUP = re.compile(r"[*`#]+|^>\s?", re.MULTILINE)
# An HTML tag the author wrote, as it stands once escaped.
ESCAPED_TAG = re.compile(r"&lt;/?[A-Za-z](?:(?!&gt;).){0,200}&gt;")


def _as_text(raw: str) -> str:
    """Author's Markdown as snippet text, escaped: emphasis, heading and code marks go
    (before escaping, so entities such as &#x27; stay whole), then the HTML tags the
    author wrote (after escaping, so they can never render)."""
    return ESCAPED_TAG.sub("", escape(MARKUP.sub("", raw)))


def snippet_of(article: Any, text: str) -> str:
    """The snippet to show: PostgreSQL's headline, or a window around the first match
    (escaped, then marked) on SQLite. Safe HTML: only <mark> is markup."""
    if getattr(article, "snippet", None):
        # SearchHeadline returns the body's text with <mark> around the matches; keep
        # those aside while the rest is made text.
        raw = article.snippet.replace("<mark>", "\x01").replace("</mark>", "\x02")
        return _as_text(raw).replace("\x01", "<mark>").replace("\x02", "</mark>")
    body = article.body
    words = _words(text or "")
    pos = min((body.lower().find(w.lower()) for w in words if w.lower() in body.lower()), default=0)
    out = _as_text(body[max(0, pos - 80) : pos + 160])
    for w in words:
        out = re.sub(f"({re.escape(escape(w))})", r"<mark>\1</mark>", out, flags=re.IGNORECASE)
    return ("…" if pos > 80 else "") + out + ("…" if len(body) > pos + 160 else "")
