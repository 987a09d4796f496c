#!/usr/bin/env python
"""Knowledge search benchmark: how long a ranked, highlighted search and an as-you-type
suggestion take as the knowledge base grows, and whether PostgreSQL uses the GIN index.

Seeds N published articles of ~120 words drawn from a 5,000-word vocabulary (plus one
article about the searched words), then times the search box (every word) and the
suggestion (any word) for a few queries, each the median of 7 runs of the first page (20
rows, with snippets). Prints the figures and the EXPLAIN ANALYZE of one search.

    .venv/bin/python bench/kb_search.py              # N = 20 000 (PostgreSQL)
    .venv/bin/python bench/kb_search.py --n 100000
    .venv/bin/python bench/kb_search.py --sqlite     # the embedded default's fallback

Runs in a throwaway database like bench/sla_sweep.py (``tandem_bench``, dropped after).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, run_in_throwaway_database  # noqa: E402

QUERIES = [
    "receipt upload rejected",  # the one article about it
    "expense",  # in its title only
    "qazuvo",  # a vocabulary word: in ~2 % of the articles
    "nothing like this anywhere",  # no match
]
SUGGESTIONS = ["my expense receipt upload is rejected again", "qazuvo tirelo mexapu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="articles")
    add_database_options(parser)
    run_in_throwaway_database(parser.parse_args(), run)


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["qa", "zu", "vo", "ti", "re", "lo", "me", "xa", "pu", "ki", "do", "fa", "ne"]
    words: set[str] = {"qazuvo", "tirelo", "mexapu"}
    while len(words) < 5_000:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    from knowledge.models import Article
    from knowledge.search import search, snippet_of
    from tests.factories import UserFactory

    rng = random.Random(7)
    vocab = _vocabulary(rng)
    common = ["qazuvo"]  # ~2 % of articles
    owner = UserFactory(username="bench")
    print(f"database: {connection.vendor} · N = {args.n:,} articles")
    t0 = time.perf_counter()
    batch = []
    for i in range(args.n):
        words = rng.choices(vocab, k=120)
        if i % 50 == 0:
            words[5] = common[0]
        batch.append(
            Article(
                number=100_000 + i,
                title=" ".join(rng.choices(vocab, k=6)).capitalize(),
                body=" ".join(words) + ".",
                audience="internal",
                owner=owner,
            )
        )
        if len(batch) == 5_000:
            Article.objects.bulk_create(batch)
            batch = []
    batch.append(
        Article(
            number=99_999,
            title="Expense receipts over 5 MB are rejected on upload",
            body="The HR Portal refuses receipt files over 5 MB. Save as PDF and upload again.",
            audience="internal",
            owner=owner,
        )
    )
    Article.objects.bulk_create(batch)
    # The seeding bypasses the services (and the FSM) on purpose: it is 10^4-10^5 rows.
    Article.objects.update(status="published")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # what knowledge.search.refresh_vector writes
            cur.execute(
                "UPDATE knowledge_article SET search_vector = "
                "setweight(to_tsvector('english', title), 'A') || "
                "setweight(to_tsvector('english', body), 'C')"
            )
            cur.execute("ANALYZE knowledge_article")
    print(f"  seeded in {time.perf_counter() - t0:.1f} s")

    def timed(text: str, match: str) -> tuple[float, int, str]:
        runs, rows = [], []
        for _ in range(7):
            t = time.perf_counter()
            rows = list(search(Article.objects.filter(status="published"), text, match=match)[:20])
            snippets = [snippet_of(a, text) for a in rows]
            runs.append(time.perf_counter() - t)
        first = rows[0].title[:40] if rows else "—"
        assert len(snippets) == len(rows)
        return statistics.median(runs) * 1000, len(rows), first

    print("search box (every word), first page of 20 with snippets:")
    for q in QUERIES:
        ms, n, first = timed(q, "all")
        print(f"  {q!r:32} {ms:8.1f} ms  {n:3} rows  first: {first}")
    print("suggestion while typing (any word), top 3 of the same query:")
    for q in SUGGESTIONS:
        ms, n, first = timed(q, "any")
        print(f"  {q!r:45} {ms:8.1f} ms  first: {first}")
    if connection.vendor == "postgresql":
        qs = search(Article.objects.filter(status="published"), "receipt upload")[:20]
        print("EXPLAIN ANALYZE of a search:")
        print("\n".join(f"  {line}" for line in qs.explain(analyze=True).splitlines()))


if __name__ == "__main__":
    main()
