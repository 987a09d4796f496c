"""What a user may read of an article's parts (see core.visibility), registered in
KnowledgeConfig.ready."""

from __future__ import annotations

from typing import Any

from core.roles import is_staff_member
from core.visibility import EVERYTHING, Parts


def article_parts(user: Any, article: Any) -> Parts:
    """Staff read everything. Anyone else who may open the article (a published public
    one: ``knowledge.selectors.article_list``) reads its public files, nothing more."""
    if is_staff_member(user):
        return EVERYTHING
    return Parts(public_attachments=bool(getattr(user, "is_authenticated", False)))
