"""Canned replies: text an agent inserts into a reply, personal or shared with a team, with
placeholders filled for the ticket at hand.

Placeholders are a fixed list filled by plain string replacement (``fill``): the text is
never run through Django's template engine, so nothing a user types (in the reply or in a
name or title it names) can reach a template tag, a filter or an attribute lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.conf import settings
from django.db import models

# Every placeholder a canned reply may use, with what it stands for (the page lists them).
PLACEHOLDERS: dict[str, str] = {
    "requester.first_name": "The requester's first name (their username when blank).",
    "requester.name": "The requester's full name (their username when blank).",
    "ticket.key": "The ticket's key, e.g. INC-1042 or REQ-17.",
    "ticket.title": "The ticket's title (a request: its catalogue item).",
    "ticket.service": "The ticket's service.",
    "ticket.url": "The ticket's address in Tandem.",
    "agent.first_name": "Your first name (the agent inserting the reply).",
    "agent.name": "Your full name.",
}

# ``{{ name }}`` with any spacing. Anything between double braces is taken for a
# placeholder, so a typo (``{{ requester.frist_name }}``) is refused on save rather than
# sent to a customer as written.
PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}")

# Markdown punctuation a filled-in value is escaped for (CommonMark's backslash escapes):
# a requester named ``**Bob**`` or ``<b>Bob</b>``, or a title with ``_`` in it, reads as
# typed in the rendered reply instead of turning into markup.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>#|~!{}])")


def placeholders_in(text: str) -> list[str]:
    """The names inside ``{{ … }}`` in ``text``, stripped, in order (duplicates kept)."""
    return [m.group(1).strip() for m in PLACEHOLDER_RE.finditer(text or "")]


def unknown_placeholders(text: str) -> list[str]:
    """The distinct names in ``text`` that are not in ``PLACEHOLDERS``, in order."""
    seen: dict[str, None] = {}
    for name in placeholders_in(text):
        if name not in PLACEHOLDERS:
            seen.setdefault(name, None)
    return list(seen)


def markdown_literal(value: str) -> str:
    return _MARKDOWN_ACTIVE.sub(r"\\\1", value)


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each known placeholder replaced by its value, escaped for Markdown, in
    one pass (a value that itself reads ``{{ ticket.key }}`` stays as it is); an unknown one
    is left as written (saving refuses those, so only old text could hold one)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name not in values:
            return m.group(0)
        return markdown_literal(str(values[name]))

    return PLACEHOLDER_RE.sub(one, text or "")


class CannedReply(models.Model):
    """A reply text kept for reuse: shared with ``team`` (its members use and edit it) or
    personal to ``owner``; exactly one of the two is set."""

    title = models.CharField(max_length=120)
    body = models.TextField(help_text="Markdown; may hold placeholders like {{ ticket.key }}.")
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="canned_replies"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(team__isnull=True) & models.Q(owner__isnull=False))
                | (models.Q(team__isnull=False) & models.Q(owner__isnull=True)),
                name="canned_reply_team_xor_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None

    @property
    def scope_label(self) -> str:
        return "Personal" if self.is_personal else str(self.team)
