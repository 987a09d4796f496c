"""The only write path for articles: every edit keeps a version; flags and known-error
articles are kept in step by the events of the apps below."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import partial, wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, NotFound, ValidationFailed
from core.models import Service
from core.services import moment_now, outbox_email, replayed_stamp, sequence_next
from itsm.services.common import (
    Actor,
    created_changes,
    diff,
    ensure_editable,
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

logger = logging.getLogger(__name__)


def _tags(names: Iterable[str]) -> list[Tag]:
    out = []
    for raw in names:
        name = raw.strip().lower().replace(" ", "-")[:40]
        if name:
            out.append(Tag.objects.get_or_create(name=name)[0])
    return out


TITLE_MAX = Article._meta.get_field("title").max_length or 200


def _check_text(title: str, body: str) -> None:
    require(title.strip(), "title", "A title is required.")
    if len(title.strip()) > TITLE_MAX:
        raise ValidationFailed(f"A title is at most {TITLE_MAX} characters.", field="title")
    require(body.strip(), "body", "Write the article.")


def _text(body: str) -> str:
    """Browsers send CRLF; store one kind of line end so versions diff cleanly."""
    return body.replace("\r\n", "\n").replace("\r", "\n")


def _details(article: Article) -> dict[str, Any]:
    return {
        "audience": article.audience,
        "services": sorted(s.name for s in article.services.all()),
        "tags": sorted(t.name for t in article.tags.all()),
        "review_by": article.review_by.isoformat() if article.review_by else None,
    }


def _version(
    article: Article, actor: Actor, note: str, details: dict[str, Any] | None = None
) -> None:
    version = ArticleVersion.objects.create(
        article=article,
        number=article.version,
        title=article.title,
        body=article.body,
        details=details if details is not None else _details(article),
        author=actor,
        note=note[:200],
    )
    replayed_stamp(version, created=True)


def article_create(
    *,
    actor: AbstractBaseUser,
    # Defaults, so a caller that leaves them out (an API body without a title) meets the
    # 400 of ``_check_text`` below, not a TypeError (a 500).
    title: str = "",
    body: str = "",
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
    _check_text(title or "", body or "")
    if audience not in Audience.values:
        raise ValidationFailed(
            f"Audience is one of {', '.join(Audience.values)}.", field="audience"
        )
    with transaction.atomic():
        article = Article(
            number=sequence_next("article"),
            title=title.strip(),
            body=_text(body),
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
    actor: Actor,
    note: str = "",
    services: Iterable[Service] | None = None,
    tags: Iterable[str] | None = None,
    clears_flag: bool = True,
    **fields: Any,
) -> Article:
    """Edit (staff; not a retired article). Every edit that changes anything keeps a new
    version (text and what the article is filed under) and clears a *needs review* flag:
    its owner looked at it (not when Tandem rewrites it: ``clears_flag=False``). An edit
    that changes nothing writes nothing. ``actor`` None is Tandem itself.
    Audit: ``updated`` with the field changes and the note."""
    allowed = {"title", "body", "audience", "review_by", "owner"}
    ensure_editable(fields, allowed)
    if "audience" in fields and fields["audience"] not in Audience.values:
        raise ValidationFailed(
            f"Audience is one of {', '.join(Audience.values)}.", field="audience"
        )
    with transaction.atomic():
        a = lock(article)
        if actor is not None and not permissions.can_edit(actor, a):
            raise ActionForbidden(f"You may not edit {a.key}.")
        if a.status == "retired":
            raise IllegalTransition(f"{a.key} is retired; it cannot be edited.")
        before, body_before, details_before = snapshot(a), a.body, _details(a)
        if isinstance(fields.get("title"), str):
            fields["title"] = fields["title"].strip()
        if isinstance(fields.get("body"), str):
            fields["body"] = _text(fields["body"])
        for k, v in fields.items():
            setattr(a, k, v)
        _check_text(a.title, a.body)
        if services is not None:
            a.services.set(services)
        if tags is not None:
            a.tags.set(_tags(tags))
        details_after = _details(a)
        changes: dict[str, tuple[Any, Any]] = diff(a, before)
        for k in ("services", "tags"):
            if details_after[k] != details_before[k]:
                changes[k] = (", ".join(details_before[k]), ", ".join(details_after[k]))
        if a.body != body_before:
            changes["body"] = (f"v{a.version}", f"v{a.version + 1}")
        if not changes:
            return a
        a.version += 1
        if clears_flag:
            _unflag(a)
        save(a)
        _version(a, actor, note, details_after)
        refresh_vector(a)
        record(a, actor, "updated", changes={**changes, **diff(a, before)}, comment=note)
    return a


def article_restore(*, article: Article, actor: AbstractBaseUser, number: int) -> Article:
    """Bring back version ``number`` (its text, audience and tags; services that still
    exist) as a new version, so nothing in between is lost. Audit: ``updated``."""
    old = ArticleVersion.objects.filter(article=article, number=number).first()
    if old is None:
        raise NotFound(f"{article.key} has no version {number}.")
    d = old.details
    fields: dict[str, Any] = {"title": old.title, "body": old.body}
    if "audience" in d:
        fields["audience"] = d["audience"]
    if "review_by" in d:
        fields["review_by"] = date.fromisoformat(d["review_by"]) if d["review_by"] else None
    return article_update(
        article=article,
        actor=actor,
        note=f"Restored v{number}.",
        services=Service.objects.filter(name__in=d["services"]) if "services" in d else None,
        tags=d.get("tags"),
        **fields,
    )


def article_mark_reviewed(
    *, article: Article, actor: AbstractBaseUser, review_by: date | None = None, comment: str = ""
) -> Article:
    """The owner (or any staff) checked a flagged article and it still holds: the flag
    goes, and the next review date is set when given (it must be in the future).
    Audit: ``reviewed``."""
    if review_by is not None and review_by <= timezone.localdate():
        raise ValidationFailed("The next review date must be in the future.", field="review_by")
    with transaction.atomic():
        a = lock(article)
        if not permissions.can_edit(actor, a):
            raise ActionForbidden(f"You may not review {a.key}.")
        if a.status == "retired":
            raise IllegalTransition(f"{a.key} is retired.")
        before = snapshot(a)
        reason = a.needs_review_reason
        _unflag(a)
        if review_by is not None:
            a.review_by = review_by
        elif a.review_by and a.review_by < timezone.localdate():
            a.review_by = None  # the passed date was the reason; do not flag it again tomorrow
        save(a)
        record(
            a,
            actor,
            "reviewed",
            before=before,
            comment=comment or (f"Still holds ({reason})" if reason else "Still holds."),
        )
    return a


def _unflag(article: Article) -> None:
    article.needs_review, article.needs_review_reason, article.review_release = False, "", None


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
            _unflag(a)
    return a


ARTICLE_TRANSITION_SERVICES: dict[str, Callable[..., Article]] = {
    name: partial(article_transition, name=name)
    for name in ("submit_review", "publish", "rework", "retire")
}


def article_flag(
    *, article: Article, reason: str, actor: Actor = None, release: Any = None
) -> None:
    """Flag an article *needs review* (naming the release that changed its service, when
    one did) and tell its owner, once per reason. Audit: ``flagged``. Outbox: the owner."""
    with transaction.atomic():
        a = lock(article)
        if a.needs_review and a.needs_review_reason == reason[:255]:
            return
        a.needs_review, a.needs_review_reason = True, reason[:255]
        a.review_release = release
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
    """'This solved it': a deflection (no incident raised) when no incident is named, else
    the article is linked to the incident (audited there). The caller passes an article
    and incident the actor may see. Counted once: linking the same article to the same
    incident again, or the same person saying it solved it again within the hour, returns
    the earlier use without counting it twice."""
    kind = ArticleUse.Kind.LINKED if incident is not None else ArticleUse.Kind.DEFLECTED
    if incident is not None and not permissions.can_link_to_incident(actor, incident):
        raise ActionForbidden(f"Those who work {incident.key} link articles to it.")
    with transaction.atomic():
        a = lock(article)
        earlier = ArticleUse.objects.filter(article=a, kind=kind)
        earlier = (
            earlier.filter(incident=incident)
            if incident is not None
            else earlier.filter(user=actor, created_at__gte=moment_now() - DEFLECTION_WINDOW)
        )
        if (found := earlier.first()) is not None:
            return found
        use = ArticleUse.objects.create(
            article=a, user=actor, kind=kind, incident=incident, query=query[:200]
        )
        replayed_stamp(use, created=True)  # a replayed use counts in its own week
        Article.objects.filter(pk=a.pk).update(used_count=F("used_count") + 1)
        if incident is not None:
            record(incident, actor, "article_linked", comment=f"{a.key}: {a.title}")
    return use


DEFLECTION_WINDOW = timedelta(hours=1)


# --- reactions to the apps below (subscribed in KnowledgeConfig.ready) --------------------
def _reaction(handler: Callable[..., None]) -> Callable[..., None]:
    """A reaction runs inside the other app's action, in a savepoint of its own: if the
    knowledge base fails, the go-live or the workaround still stands, and the failure is
    logged as an error rather than turned into the user's 500."""

    @wraps(handler)
    def react(**payload: Any) -> None:
        try:
            with transaction.atomic():
                handler(**payload)
        except Exception:
            logger.exception(
                "Knowledge base: %s failed; the action it followed stands.", handler.__name__
            )

    return react


def known_error_body(problem: Any) -> str:
    """A problem's known-error article, written from the problem (never edited by hand:
    the next change to the problem rewrites it)."""
    fixed = ""
    if problem.status in ("resolved", "closed") and problem.resolution_notes:
        fixed = f"## Fixed\n\n{problem.resolution_notes}\n\n"
    return (
        f"**Known error** — {problem.title}\n\n{fixed}## Symptoms\n\n"
        f"{problem.description or '—'}\n\n## Workaround\n\n{problem.workaround}\n\n"
        f"## Cause\n\n{problem.root_cause or 'Under investigation.'}\n\nProblem {problem.key}."
    )


@_reaction
def on_workaround_published(*, problem: Any, actor: Actor) -> None:
    """A problem's workaround becomes (or updates) its known-error article, published at
    once: the desk needs it now. Its incidents show it through the problem."""
    body = known_error_body(problem)
    existing = Article.objects.filter(problem=problem).first()
    owner = problem.assignee or actor or problem.created_by
    if existing is None:
        article = article_create(
            actor=owner,
            title=f"Known error: {problem.title}"[:TITLE_MAX],
            body=body,
            services=[problem.service] if problem.service_id else [],
            tags=["known-error"],
            problem=problem,
        )
        with transitioning(
            article, None, "publish", ensure=_ensure, comment="Published with the workaround."
        ):
            pass
    elif existing.status != "retired" and existing.body != body:
        article_update(
            article=existing,
            actor=actor,
            body=body,
            note="The problem's workaround changed.",
            clears_flag=False,
        )


def _known_error_rewritten(problem: Any, *, note: str) -> Article | None:
    """The problem's live known-error article, rewritten (by Tandem) from the problem's
    current state when its text changed; None when the problem has none."""
    article = Article.objects.filter(problem=problem).exclude(status="retired").first()
    if article is None:
        return None
    body = known_error_body(problem)
    if article.body == body:
        return article
    return article_update(article=article, actor=None, body=body, note=note, clears_flag=False)


@_reaction
def on_problem_resolved(*, problem: Any, actor: Actor) -> None:
    """The permanent fix is in: the known-error article says so, and its owner is asked
    whether to retire it (people on the old version may still need the workaround)."""
    article = _known_error_rewritten(problem, note=f"{problem.key} resolved.")
    if article is not None and article.status == "published":
        article_flag(
            article=article,
            reason=f"{problem.key} is resolved ({problem.resolution_notes[:120]}): retire this "
            "known error once nobody needs the workaround.",
            actor=actor,
        )


@_reaction
def on_release_live(*, release: Any, actor: Actor) -> None:
    """The articles the release touches are flagged for review, naming it: those filed
    under the services of the items it ships, or naming one of their keys. A project that
    chose the wider rule (``review_scope``) has every article of its services flagged."""
    from projects.models import ReviewScope
    from projects.selectors import release_reach

    reason = f"{release} went live on {timezone.localdate():%d %b %Y}: check this still holds."
    published = Article.objects.filter(status="published")
    if release.project.review_scope == ReviewScope.ALL_SERVICES:
        articles = list(published.filter(services__in=release.project.services.all()).distinct())
    else:
        articles = _touched_articles(published, *release_reach(release))
    for article in articles:
        article_flag(article=article, reason=reason, actor=actor, release=release)


def _touched_articles(published: Any, service_ids: set[int], keys: set[str]) -> list[Article]:
    """Published articles filed under one of ``service_ids`` or naming one of ``keys``
    as a word (``DEF-12`` is not ``DEF-123``)."""
    from django.db.models import Q

    found = {a.pk: a for a in published.filter(services__in=service_ids).distinct()}
    if keys:
        mention = Q()
        for key in keys:
            mention |= Q(title__icontains=key) | Q(body__icontains=key)
        words = re.compile(r"\b(" + "|".join(re.escape(k) for k in keys) + r")\b", re.I)
        for a in published.filter(mention).exclude(pk__in=found):
            if words.search(a.title) or words.search(a.body):
                found[a.pk] = a
    return sorted(found.values(), key=lambda a: a.pk)


def article_unflag(*, article: Article, actor: Actor, comment: str) -> Article:
    """Withdraw a *needs review* flag whose reason no longer holds (the release that raised
    it was rolled back, the resolution it announced was withdrawn). Audit: ``unflagged``."""
    with transaction.atomic():
        a = lock(article)
        if not a.needs_review:
            return a
        before = snapshot(a)
        _unflag(a)
        save(a)
        record(a, actor, "unflagged", before=before, comment=comment)
    return a


@_reaction
def on_problem_reopened(*, problem: Any, actor: Actor, reason: str = "") -> None:
    """The fix did not hold: the known-error article stops saying it is fixed, and the
    "retire this known error" flag its resolution raised is withdrawn."""
    article = _known_error_rewritten(problem, note=f"{problem.key} reopened: {reason}"[:200])
    if article is None:
        return
    resolved_flag = f"{problem.key} is resolved"
    if article.needs_review and article.needs_review_reason.startswith(resolved_flag):
        article_unflag(
            article=article,
            actor=actor,
            comment=f"{problem.key} was reopened ({reason[:120]}); the known error stands.",
        )


@_reaction
def on_release_rolled_back(*, release: Any, actor: Actor, reason: str = "") -> None:
    """Undo what the go-live did to the knowledge base: the flags it raised and nobody has
    handled yet are withdrawn (the service is as it was); articles reviewed or written
    since it went live may describe the rolled-back version, so they are flagged."""
    withdrawn = []
    for article in Article.objects.filter(review_release=release, needs_review=True):
        withdrawn.append(article.pk)
        article_unflag(
            article=article,
            actor=actor,
            comment=f"{release} was rolled back: the review it asked for is no longer needed.",
        )
    flag = (
        f"{release} was rolled back on {timezone.localdate():%d %b %Y}: check this does not "
        "describe the rolled-back version."
    )
    since = release.went_live_at or timezone.now()
    for article in (
        Article.objects.filter(status="published", services__in=release.project.services.all())
        .filter(updated_at__gte=since)
        .exclude(pk__in=withdrawn)
        .distinct()
    ):
        article_flag(article=article, reason=flag, actor=actor, release=release)


def articles_flag_overdue(today: date | None = None) -> int:
    """Flag published articles past their review-by date (beat, daily)."""
    today = today or timezone.localdate()
    due = Article.objects.filter(status="published", review_by__lt=today, needs_review=False)
    count = 0
    for article in due:
        article_flag(article=article, reason=f"Review-by date {article.review_by:%d %b %Y} passed.")
        count += 1
    return count
