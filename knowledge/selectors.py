from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

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
