from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.dashboards import Figure, Filters, Series, bucket_counts
from core.roles import is_staff_member
from core.selectors import get_by_ref
from knowledge.models import Article
from knowledge.permissions import visible_audiences


def article_list(user: Any) -> QuerySet[Article]:
    """What the user may read: staff every audience and state; requesters published
    public articles only."""
    qs = Article.objects.select_related("owner", "problem").prefetch_related("services", "tags")
    if not user.is_authenticated:
        return qs.none()
    qs = qs.filter(audience__in=visible_audiences(user))
    return qs if is_staff_member(user) else qs.filter(status="published")


def article_get(user: Any, ref: str) -> Article:
    return get_by_ref(article_list(user), Article.KEY_PREFIX, ref, "article")


def deflections(filters: Filters) -> Figure:
    """Dashboards: per bucket, the times an article solved a problem with no incident
    raised ("this solved it" from the portal), next to the times agents linked one to an
    incident. One query. Filtered by service through the article's services; not by team
    (a deflection has none)."""
    from django.db.models import Q
    from django.urls import reverse

    from knowledge.models import ArticleUse

    qs = ArticleUse.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    if filters.service_id:
        qs = qs.filter(article__services=filters.service_id)
    (row,) = bucket_counts(
        qs,
        "created_at",
        filters.buckets,
        deflected=Q(kind=ArticleUse.Kind.DEFLECTED),
        linked=Q(kind=ArticleUse.Kind.LINKED),
    )
    n = len(filters.buckets)
    link = reverse("knowledge:list")
    if filters.service_id:
        link += f"?service={filters.service_id}"
    return Figure(
        "deflections",
        "Knowledge deflections",
        "bar",
        "Period",
        [b.label for b in filters.buckets],
        [
            Series("Solved, no incident raised", [row[f"deflected{i}"] for i in range(n)]),
            Series("Linked to an incident", [row[f"linked{i}"] for i in range(n)]),
        ],
        unit="uses",
        link=link,
        note="Articles marked 'this solved it' (deflections) and articles linked to incidents.",
    )
