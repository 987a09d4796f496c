"""Development links: the commits, branches and pull/merge requests that work on a work
item, by URL. A pipeline posts a URL with its title; the work item keys in the title or
in the branch name (``DEF-1011``, any case, several allowed) find the items.

Every write is audited on the work item it touches (``dev_link_added``,
``dev_link_updated``, ``dev_link_removed``); no e-mail."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q

from core.exceptions import ActionForbidden, ValidationFailed
from itsm.services.common import lock, record
from projects import permissions
from projects.models import DevLink, DevLinkKind, WorkItem

# A key stands alone, not inside a longer word or number ("xDEF-1", "DEF-2a"); "_" and
# "-" may follow it ("def-7_fix", "DEF-7-tax").
KEY_PATTERN = re.compile(r"(?<![A-Za-z0-9])(DEF|ENH)-(\d{1,12})(?![A-Za-z0-9])", re.IGNORECASE)
_PREFIX_KIND = {prefix: kind for kind, prefix in WorkItem.PREFIXES.items()}

# Path shapes of GitHub, GitLab (and their self-hosted servers) and Bitbucket.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/pull/\d+(/|$)"), DevLinkKind.PULL_REQUEST),  # GitHub
    (re.compile(r"/merge_requests/\d+(/|$)"), DevLinkKind.PULL_REQUEST),  # GitLab
    (re.compile(r"/pull-requests/\d+(/|$)"), DevLinkKind.PULL_REQUEST),  # Bitbucket
    (re.compile(r"/commits?/[0-9a-fA-F]{7,40}(/|$)"), DevLinkKind.COMMIT),
    (re.compile(r"/(?:tree|branch)/(?P<branch>.+)$"), DevLinkKind.BRANCH),
)
MAX_URL = 500
MAX_TITLE = 300
_url_validator = URLValidator(schemes=["http", "https"])


def link_kind(url: str) -> tuple[str, str]:
    """(kind, branch name) read from the URL's path: a pull/merge request, a commit, a
    branch (with its name), or a plain link."""
    path = urlsplit(url).path
    for pattern, kind in _SHAPES:
        match = pattern.search(path)
        if match:
            branch = match.groupdict().get("branch") or ""
            return kind, unquote(branch).rstrip("/")
    return DevLinkKind.LINK, ""


def keys_in(*texts: str) -> list[str]:
    """The work item keys named in the texts, upper-cased, first mention first."""
    found: list[str] = []
    for text in texts:
        for prefix, number in KEY_PATTERN.findall(text or ""):
            key = f"{prefix.upper()}-{int(number)}"
            if key not in found:
                found.append(key)
    return found


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationFailed("A URL is required.", field="url")
    if len(url) > MAX_URL:
        raise ValidationFailed(f"A URL is at most {MAX_URL} characters.", field="url")
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationFailed(
            "Give the http(s) address of a commit, branch or pull request.", field="url"
        ) from None
    return url


def _upsert(
    item: WorkItem, url: str, title: str, state: str, actor: Any, *, locked_already: bool = False
) -> DevLink:
    """Add the link to ``item`` or update its title and state (the caller holds the
    transaction and has checked permission; ``locked_already``: it locked ``item``)."""
    kind, _branch = link_kind(url)
    locked = item if locked_already else lock(item)
    link = DevLink.objects.filter(item=locked, url=url).first()
    if link is None:
        link = DevLink.objects.create(
            item=locked, url=url, kind=kind, title=title, state=state, added_by=actor
        )
        record(
            locked,
            actor,
            "dev_link_added",
            changes={"dev_link": (None, url)},
            comment=f"{link.get_kind_display()}: {title or url}",
        )
        return link
    changes = {}
    if title and title != link.title:
        changes["title"] = (link.title, title)
        link.title = title
    if state and state != link.state:
        changes["state"] = (link.state, state)
        link.state = state
    if changes:
        link.save(update_fields=["title", "state", "updated_at"])
        record(
            locked,
            actor,
            "dev_link_updated",
            changes=changes,
            comment=f"{link.get_kind_display()}: {link.title or url}",
        )
    return link


def _clean_text(title: str, state: str) -> tuple[str, str]:
    return (title or "").strip()[:MAX_TITLE], (state or "").strip().lower()[:20]


def dev_link_add(
    *, item: WorkItem, url: str, title: str, actor: AbstractBaseUser, state: str = ""
) -> DevLink:
    """Link a commit, branch or pull request to ``item`` by URL.

    Preconditions: ``can_work_item`` (403 otherwise); an http(s) URL of at most 500
    characters (400). Idempotent: the same URL again updates its title and state.
    Audit on the item: ``dev_link_added``, or ``dev_link_updated`` when the title or
    state changed (nothing when nothing changed)."""
    url = _clean_url(url)
    title, state = _clean_text(title, state)
    if not permissions.can_work_item(actor, item):
        raise ActionForbidden(f"Only who works on {item.key} may link code to it.")
    with transaction.atomic():
        return _upsert(item, url, title, state, actor)


@dataclass
class TitleLinks:
    """What ``dev_links_from_title`` did: the links made or updated, the keys no work
    item has (or not one the actor may see), the items the actor may not work on."""

    links: list[DevLink] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[WorkItem]:
        return [link.item for link in self.links]


def _items_by_keys(actor: Any, keys: list[str]) -> dict[str, WorkItem]:
    """The work items named, among those the actor may see (staff see them all)."""
    if not keys or not permissions.can_view(actor):
        return {}
    query = Q()
    for key in keys:
        prefix, number = key.split("-")
        query |= Q(kind=_PREFIX_KIND[prefix], number=int(number))
    rows = (
        WorkItem.objects.filter(query)
        .select_related("project__team")
        .prefetch_related("project__services")
    )
    return {w.key: w for w in rows}


def dev_links_from_title(
    *,
    url: str,
    title: str,
    actor: AbstractBaseUser,
    state: str = "",
    item: WorkItem | None = None,
) -> TitleLinks:
    """Link the URL to every work item whose key is in ``title`` or in the branch name
    of the URL (a pipeline's call), and to ``item`` when given (the item's own page).

    Preconditions: an http(s) URL (400); ``item``, when given, must be the actor's to
    work on (403); other items the actor may not work on are skipped and reported, as
    are keys no item has. Audit: as ``dev_link_add``, on each item linked. One
    transaction for all of them. Only staff link code (403): the development side is
    theirs (``core.matrix``)."""
    if not permissions.can_view(actor):
        raise ActionForbidden("Only staff link code to work items.")
    url = _clean_url(url)
    title, state = _clean_text(title, state)
    _kind, branch = link_kind(url)
    if item is not None and not permissions.can_work_item(actor, item):
        raise ActionForbidden(f"Only who works on {item.key} may link code to it.")
    keys = keys_in(title, branch)
    found = _items_by_keys(actor, [k for k in keys if item is None or k != item.key])
    result = TitleLinks()
    targets: list[WorkItem] = [item] if item is not None else []
    for key in keys:
        if item is not None and key == item.key:
            continue
        w = found.get(key)
        if w is None:
            result.unknown_keys.append(key)
        elif not permissions.can_work_item(actor, w):
            result.refused_keys.append(key)
        else:
            targets.append(w)
    with transaction.atomic():
        # Lock in primary-key order, whatever order the title names them in: two pipeline
        # calls naming the same items ("DEF-1 DEF-2", "DEF-2 DEF-1") would otherwise each
        # hold one row and wait for the other's (a deadlock).
        locked = {w.pk: lock(w) for w in sorted(targets, key=lambda w: w.pk)}
        for target in targets:
            result.links.append(
                _upsert(locked[target.pk], url, title, state, actor, locked_already=True)
            )
    return result


def dev_link_remove(*, link: DevLink, actor: AbstractBaseUser) -> None:
    """Remove a development link. Preconditions: ``can_work_item`` on its item (403).
    Audit on the item: ``dev_link_removed``."""
    item = link.item
    if not permissions.can_work_item(actor, item):
        raise ActionForbidden(f"Only who works on {item.key} may unlink code from it.")
    with transaction.atomic():
        locked = lock(item)
        DevLink.objects.filter(pk=link.pk).delete()
        record(
            locked,
            actor,
            "dev_link_removed",
            changes={"dev_link": (link.url, None)},
            comment=f"{link.get_kind_display()}: {link.title or link.url}",
        )


__all__ = [
    "TitleLinks",
    "dev_link_add",
    "dev_link_remove",
    "dev_links_from_title",
    "keys_in",
    "link_kind",
]
