"""Recurring-incident candidates: incidents of one service that describe the same thing,
grouped by the similarity of what was reported, strongest clusters first.

Similarity is computed here, in Python, over a bounded set (the most recent
``CANDIDATE_LIMIT`` incidents of the window that are neither cancelled nor linked to a
problem): the title compared as pg_trgm does (trigram sets, Jaccard), the title and
description compared by their content words. The same answer on PostgreSQL and SQLite,
no extension, and a cost set by the limit, not by the size of the incident table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

from django.db.models.functions import Substr
from django.utils import timezone

from itsm.models import Incident, IncidentStatus

CANDIDATE_LIMIT = 500  # incidents read per request, most recent first
MAX_DAYS = 180
SIMILAR = 0.45  # two incidents this similar or more belong together
TITLE_WEIGHT = 0.6  # the rest is the words of title and description
DESCRIPTION_CHARS = 500

STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a about after again all also am an and any are as at be been before being but by
        can cannot could did do does doesn don for from get gets got had has have having here
        how i if in into is isn it its just me my no not now of on once only or our out over
        please so some since still than that the their them then there these they this to
        today too up us very was we were what when where which while who why will with won
        would yes you your""",
    )
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> frozenset[str]:
    """Lower-cased, stemmed words of three letters or more, without stop words."""
    return frozenset(
        _stem(w)
        for w in re.findall(r"[a-z][a-z0-9]+", text.lower())
        if len(w) >= 3 and w not in STOP_WORDS
    )


def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's trigrams: each alphanumeric word padded with two spaces before, one after."""
    out: set[str] = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        padded = f"  {w} "
        out.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(out)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


@dataclass(frozen=True)
class _Text:
    """What is compared of an incident (identical texts are compared once)."""

    title: frozenset[str]  # trigrams of the title
    words: frozenset[str]  # content words of title and description


def similarity(a: _Text, b: _Text) -> float:
    """0..1: mostly the title's trigram similarity, the rest shared content words."""
    return TITLE_WEIGHT * _jaccard(a.title, b.title) + (1 - TITLE_WEIGHT) * _jaccard(
        a.words, b.words
    )


@dataclass(frozen=True)
class RecurringGroup:
    service_id: int
    service: str
    category: str
    count: int
    keys: list[str]  # most recent first (50 at most)
    title: str = ""  # the most typical incident's title
    terms: list[str] = field(default_factory=list)  # words most of them share
    similarity: int = 0  # how alike they are on average, in %
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class _Row:
    number: int
    service_id: int
    service: str
    category: str
    title: str
    created_at: datetime
    text: _Text
    said: str = ""  # title and description as written (for the words the page shows)


def _candidates(since: datetime) -> list[_Row]:
    rows = (
        Incident.objects.filter(created_at__gte=since, problem__isnull=True)
        .exclude(status=IncidentStatus.CANCELLED)
        .order_by("-created_at", "-id")
        .annotate(description_head=Substr("description", 1, DESCRIPTION_CHARS))
        .values_list(
            "number",
            "service_id",
            "service__name",
            "category",
            "title",
            "description_head",
            "created_at",
        )[:CANDIDATE_LIMIT]
    )
    return [
        _Row(
            n,
            sid,
            sname,
            cat,
            title,
            at,
            _Text(trigrams(title), content_words(f"{title} {d}")),
            f"{title} {d}",
        )
        for n, sid, sname, cat, title, d, at in rows
    ]


def _clusters(rows: list[_Row]) -> list[list[_Row]]:
    """Single-linkage clusters of one service's incidents at ``SIMILAR``."""
    texts = list({r.text for r in rows})
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(texts)), 2):
        if similarity(texts[i], texts[j]) >= SIMILAR:
            parent[root(i)] = root(j)
    index = {t: i for i, t in enumerate(texts)}
    groups: dict[int, list[_Row]] = {}
    for r in rows:
        groups.setdefault(root(index[r.text]), []).append(r)
    return list(groups.values())


def _as_written(stem: str, rows: list[_Row]) -> str:
    """A compared stem ("addres", "stopp") as the incidents wrote it ("address",
    "stopped"): the commonest word with that stem in their titles and descriptions."""
    written = Counter(
        w
        for r in rows
        for w in re.findall(r"[a-z][a-z0-9]+", (r.said or r.title).lower())
        if _stem(w) == stem
    )
    return written.most_common(1)[0][0] if written else stem


def _group(rows: list[_Row]) -> RecurringGroup:
    rows = sorted(rows, key=lambda r: r.created_at, reverse=True)
    texts = Counter(r.text for r in rows)
    # Typicality: how alike a text is to the others (each incident counted).
    typical = {
        t: sum(n * similarity(t, u) for u, n in texts.items() if u != t) + (texts[t] - 1)
        for t in texts
    }
    pairs = len(rows) * (len(rows) - 1) / 2
    alike = sum(typical[t] * n for t, n in texts.items()) / 2 / pairs if pairs else 1.0
    medoid = max(texts, key=lambda t: (typical[t], texts[t]))
    words = Counter(w for r in rows for w in r.text.words)
    return RecurringGroup(
        service_id=rows[0].service_id,
        service=rows[0].service,
        category=Counter(r.category for r in rows).most_common(1)[0][0],
        count=len(rows),
        keys=[f"{Incident.KEY_PREFIX}-{r.number}" for r in rows[:50]],
        title=next(r.title for r in rows if r.text == medoid),
        terms=[_as_written(w, rows) for w, n in words.most_common(5) if n * 2 >= len(rows)],
        similarity=round(100 * min(alike, 1.0)),
        first_seen=rows[-1].created_at,
        last_seen=rows[0].created_at,
    )


def recurring_incidents(*, days: int = 30, minimum: int = 3) -> list[RecurringGroup]:
    """Problem candidates: in the last ``days`` (at most ``MAX_DAYS``), incidents of the
    same service that describe the same thing, not cancelled and not yet linked to a
    problem, in clusters of at least ``minimum``; the largest and most alike first."""
    since = timezone.now() - timedelta(days=min(max(days, 1), MAX_DAYS))
    by_service: dict[int, list[_Row]] = {}
    for row in _candidates(since):
        by_service.setdefault(row.service_id, []).append(row)
    groups = [
        _group(cluster)
        for rows in by_service.values()
        for cluster in _clusters(rows)
        if len(cluster) >= minimum
    ]
    return sorted(
        groups,
        key=lambda g: (-g.count, -g.similarity, -(g.last_seen.timestamp() if g.last_seen else 0)),
    )
