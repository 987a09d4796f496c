"""``{% comment_box record %}``: the comment form of a record page, shared markup for every
record type (Markdown help, ``@mention`` suggestions, preview).

The tag decides by itself whether to show the box, with the same rule the record's comment
service checks for an internal note (``core.attachments``' registry: for a work item
``projects.permissions.can_work_item``), so the page view's context need not change. It
posts to the record type's ``<app>:<model>_comment`` page (e.g. ``projects:workitem_comment``);
a type without one shows no box. A refused post (an empty comment) re-renders the page with
``comment_error`` and ``comment_body`` in its context, which the box shows.

On a record type with a public side (incidents, requests: the requester reads public
replies) the box is shown to whoever may reply or note, and someone who may do both
chooses with two tabs, *Public reply* and *Internal work note* (posted as ``visibility``;
an internal note is drawn in yellow); ``comment_visibility`` in the context keeps the
choice of a refused post. ``bare=True`` leaves out the box's own panel and heading, for
a page that puts it inside its Activity panel; ``post_url`` names the comment page of a
record type whose URL name does not follow the pattern (requests).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from core import attachments
from core.extensions import panels_for
from core.views import return_path

register = template.Library()


def comment_url(record: Any) -> str | None:
    name = f"{record._meta.app_label}:{record._meta.model_name}_comment"
    try:
        return reverse(name, args=[getattr(record, "key", None) or record.pk])
    except NoReverseMatch:
        return None


def may_comment(user: Any, record: Any, public: bool | None = False) -> bool:
    try:
        return attachments.may_attach(user, record, public)
    except Exception:  # a record type without rules takes no comments here
        return False


def _public_side(record: Any) -> bool:
    try:
        return attachments.attachable_for(record).public_side
    except Exception:  # noqa: BLE001 - a record type without rules has none
        return False


@register.inclusion_tag("core/_comment_box.html", takes_context=True)
def comment_box(
    context: template.Context, record: Any, bare: bool = False, post_url: str = ""
) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    url = post_url or comment_url(record)
    public_side = _public_side(record)
    may_reply = public_side and may_comment(user, record, True)
    may_note = may_comment(user, record, False)
    shown = url is not None and (may_reply or may_note)
    # what the box posts: the side chosen before a refused post, else a public reply for
    # who may give one (the requester reads it), else a note
    visibility = context.get("comment_visibility") or ("public" if may_reply else "internal")
    if visibility == "public" and not may_reply or visibility == "internal" and not may_note:
        visibility = "public" if may_reply else "internal"
    return {
        "shown": shown,
        "record": record,
        "bare": bare,
        "public_side": public_side,
        "switch": may_reply and may_note,
        "visibility": visibility,
        "post_url": url,
        "preview_url": reverse("markdown_preview"),
        "suggest_url": reverse("people_suggest"),
        "error": context.get("comment_error"),
        "body": context.get("comment_body", ""),
        "next": return_path(request, record),
        "csrf_token": context.get("csrf_token"),
        # what higher apps add under the box (itsm: the canned-reply picker)
        "addons": panels_for("comment_box", request, record) if shown else [],
    }
