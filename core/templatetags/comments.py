"""``{% comment_box record %}``: the comment form of a record page, shared markup for every
record type (Markdown help, ``@mention`` suggestions, preview).

The tag decides by itself whether to show the box, with the same rule the record's comment
service checks for an internal note (``core.attachments``' registry: for a work item
``projects.permissions.can_work_item``), so the page view's context need not change. It
posts to the record type's ``<app>:<model>_comment`` page (e.g. ``projects:workitem_comment``);
a type without one shows no box. A refused post (an empty comment) re-renders the page with
``comment_error`` and ``comment_body`` in its context, which the box shows.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from core import attachments
from core.views import return_path

register = template.Library()


def comment_url(record: Any) -> str | None:
    name = f"{record._meta.app_label}:{record._meta.model_name}_comment"
    try:
        return reverse(name, args=[getattr(record, "key", None) or record.pk])
    except NoReverseMatch:
        return None


def may_comment(user: Any, record: Any) -> bool:
    try:
        return attachments.may_attach(user, record, False)
    except Exception:  # a record type without rules takes no comments here
        return False


@register.inclusion_tag("core/_comment_box.html", takes_context=True)
def comment_box(context: template.Context, record: Any) -> dict[str, Any]:
    request = context["request"]
    url = comment_url(record)
    shown = url is not None and may_comment(request.user, record)
    return {
        "shown": shown,
        "record": record,
        "post_url": url,
        "preview_url": reverse("markdown_preview"),
        "suggest_url": reverse("people_suggest"),
        "error": context.get("comment_error"),
        "body": context.get("comment_body", ""),
        "next": return_path(request, record),
        "csrf_token": context.get("csrf_token"),
    }
