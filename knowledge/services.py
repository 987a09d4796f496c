"""The only write path for articles: every edit keeps a version; flags and known-error
articles are kept in step by the events of the apps below."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import Service
from core.services import outbox_email, sequence_next
from itsm.services.common import (
    Actor,
    created_changes,
    ensure_transition_possible,
    lock,
    record,
    require,
    save,
    snapshot,
    ticket_link,
    transitioning,
)
from knowledge import permissions
from knowledge.models import Article, ArticleUse, ArticleVersion, Audience, Tag
from knowledge.search import refresh_vector


def _tags(names: Iterable[str]) -> list[Tag]:
    out = []
    for raw in names:
        name = raw.strip().lower().replace(" ", "-")[:40]
        if name:
            out.append(Tag.objects.get_or_create(name=name)[0])
    return out


def _version(article: Article, actor: Actor, note: str) -> None:
    ArticleVersion.objects.create(
        article=article,
        number=article.version,
        title=article.title,
        body=article.body,
        author=actor,
        note=note[:200],
    )


def article_create(
    *,
    actor: AbstractBaseUser,
    title: str,
    body: str,
    audience: str = Audience.INTERNAL,
    services: Iterable[Service] = (),
    tags: Iterable[str] = (),
    review_by: date | None = None,
    owner: AbstractBaseUser | None = None,
    problem: Any = None,
) -> Article:
    """Write a draft (staff). Version 1 is kept. Audit: ``created``."""
    if not permissions.can_write(actor):
        raise ActionForbidden("Articles are written by support and development staff.")
    require(title and title.strip(), "title", "A title is required.")
    require(body and body.strip(), "body", "Write the article.")
    if audience not in Audience.values:
        raise ValidationFailed(
            f"Audience is one of {', '.join(Audience.values)}.", field="audience"
        )
    with transaction.atomic():
        article = Article(
            number=sequence_next("article"),
            title=title.strip(),
            body=body,
            audience=audience,
            owner=owner or actor,
            review_by=review_by,
            problem=problem,
        )
        article.save()
        article.services.set(services)
        article.tags.set(_tags(tags))
        _version(article, actor, "First version")
        refresh_vector(article)
        record(article, actor, "created", to_state=article.status, changes=created_changes(article))
    return article


def article_update(
    *,
    article: Article,
    actor: AbstractBaseUser,
    note: str = "",
    services: Iterable[Service] | None = None,
    tags: Iterable[str] | None = None,
    **fields: Any,
) -> Article:
    """Edit: a new version when the title or body changes; clears a *needs review* flag
    (someone looked at it)."""
    allowed = {"title", "body", "audience", "review_by", "owner"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be edited: {', '.join(sorted(unknown))}.",
            errors={f: ["This field cannot be edited."] for f in unknown},
        )
    with transaction.atomic():
        a = lock(article)
        if not permissions.can_edit(actor, a):
            raise ActionForbidden(f"You may not edit {a.key}.")
        if a.status == "retired":
            raise IllegalTransition(f"{a.key} is retired.")
        before = snapshot(a)
        text_changed = any(k in fields and fields[k] != getattr(a, k) for k in ("title", "body"))
        for k, v in fields.items():
            setattr(a, k, v)
        require(a.title.strip(), "title", "A title is required.")
        require(a.body.strip(), "body", "Write the article.")
        if text_changed:
            a.version += 1
        a.needs_review, a.needs_review_reason = False, ""
        save(a)
        if services is not None:
            a.services.set(services)
        if tags is not None:
            a.tags.set(_tags(tags))
        if text_changed:
            _version(a, actor, note)
        refresh_vector(a)
        record(a, actor, "updated", before=before, comment=note)
    return a


def _ensure(actor: Actor, article: Article, name: str) -> None:
    if actor is not None:
        if name == "publish" and not permissions.can_publish(actor, article):
            raise ActionForbidden("Only support and development staff publish articles.")
        if not permissions.can_edit(actor, article):
            raise ActionForbidden(f"You may not {name.replace('_', ' ')} {article.key}.")
    ensure_transition_possible(article, name)


def article_transition(*, article: Article, actor: Actor, name: str, comment: str = "") -> Article:
    """submit_review, publish, rework, retire."""
    with transitioning(article, actor, name, ensure=_ensure, comment=comment) as a:
        if name == "publish":
            a.needs_review, a.needs_review_reason = False, ""
    return a


ARTICLE_TRANSITION_SERVICES: dict[str, Callable[..., Article]] = {
    name: partial(article_transition, name=name)
    for name in ("submit_review", "publish", "rework", "retire")
}


def article_flag(*, article: Article, reason: str, actor: Actor = None) -> None:
    """Flag a published article *needs review* and tell its owner (once per reason)."""
    with transaction.atomic():
        a = lock(article)
        if a.needs_review and a.needs_review_reason == reason:
            return
        a.needs_review, a.needs_review_reason = True, reason[:255]
        save(a)
        record(a, actor, "flagged", comment=reason)
        outbox_email(
            event="article.needs_review",
            recipients=[a.owner.email],
            subject=f"[{a.key}] Needs review: {a.title}",
            body=f"{reason}\n\nPlease check the article still holds.\n\n{ticket_link(a)}",
            target=a,
        )


def article_used(
    *, article: Article, actor: AbstractBaseUser, incident: Any = None, query: str = ""
) -> ArticleUse:
    """'This solved it': a deflection when no incident is named, else the article is
    linked to the incident (audited there)."""
    kind = ArticleUse.Kind.LINKED if incident is not None else ArticleUse.Kind.DEFLECTED
    with transaction.atomic():
        use = ArticleUse.objects.create(
            article=article, user=actor, kind=kind, incident=incident, query=query[:200]
        )
        Article.objects.filter(pk=article.pk).update(used_count=F("used_count") + 1)
        if incident is not None:
            record(incident, actor, "article_linked", comment=f"{article.key}: {article.title}")
    return use


# --- reactions to the apps below (subscribed in KnowledgeConfig.ready) --------------------
def on_workaround_published(*, problem: Any, actor: Actor) -> None:
    """A problem's workaround becomes (or updates) its known-error article."""
    body = (
        f"**Known error** — {problem.title}\n\n## Symptoms\n\n{problem.description or '—'}"
        f"\n\n## Workaround\n\n{problem.workaround}\n\n## Cause\n\n"
        f"{problem.root_cause or 'Under investigation.'}\n\nProblem {problem.key}."
    )
    existing = Article.objects.filter(problem=problem).first()
    owner = problem.assignee or actor or problem.created_by
    if existing is None:
        article = article_create(
            actor=owner,
            title=f"Known error: {problem.title}",
            body=body,
            services=[problem.service],
            tags=["known-error"],
            problem=problem,
        )
        with transitioning(
            article, None, "publish", ensure=_ensure, comment="Published with the workaround."
        ):
            pass
    elif existing.body != body:
        article_update(
            article=existing, actor=owner, body=body, note="The problem's workaround changed."
        )


def on_release_live(*, release: Any, actor: Actor) -> None:
    """Articles about the release's services are flagged for review, naming it."""
    reason = f"{release} went live on {timezone.localdate():%d %b %Y}: check this still holds."
    for article in Article.objects.filter(
        status="published", services__in=release.project.services.all()
    ).distinct():
        article_flag(article=article, reason=reason, actor=actor)


def articles_flag_overdue(today: date | None = None) -> int:
    """Flag published articles past their review-by date (beat, daily)."""
    today = today or timezone.localdate()
    due = Article.objects.filter(status="published", review_by__lt=today, needs_review=False)
    count = 0
    for article in due:
        article_flag(article=article, reason=f"Review-by date {article.review_by:%d %b %Y} passed.")
        count += 1
    return count
