"""Issue 11 review: long text a user wrote costs a page little, whoever wrote it. A comment of
30 000 ``[`` made an incident page take minutes on every view (Python-Markdown backtracks on
unmatched brackets): the renderer is now markdown-it-py (linear; ``bench/markdown_render.py``
prints the figures), each text is rendered once and cached, and comments are capped on
every path."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client

from core import markdown
from core.exceptions import ValidationFailed
from core.models import Comment
from core.services import COMMENT_MAX_CHARS
from itsm import services


def test_a_text_is_rendered_once_then_read_from_the_cache() -> None:
    cache.clear()
    text = "Cache me: **once** " + "[" * 50
    with mock.patch.object(markdown, "_html", wraps=markdown._html) as render:
        first = markdown.render_markdown(text)
        again = markdown.render_markdown(text)
        markdown.render_markdown(text + "!")
    assert first == again and "<strong>once</strong>" in first
    assert render.call_count == 2  # the text, then the other text; not the repeat


def test_the_renderer_is_markdown_it() -> None:
    """The renderer that runs in linear time (Python-Markdown does not, on brackets)."""
    from markdown_it import MarkdownIt

    assert isinstance(markdown._MD, MarkdownIt)
    assert "[" * 10 in markdown.render_markdown("[" * 10)


def test_a_comment_over_the_limit_is_refused_on_every_path(org) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(
        actor=org.requester, service=org.service, title="t", impact="low", urgency="low"
    )
    huge = "[" * (COMMENT_MAX_CHARS + 1)
    with pytest.raises(ValidationFailed, match="at most"):
        services.incident_comment(incident=incident, actor=org.requester, body=huge)
    page = Client()
    page.force_login(org.requester)
    r = page.post(f"{incident.get_absolute_url()}comments/", {"body": huge, "public": "on"})
    assert r.status_code == 400
    assert not Comment.objects.filter(object_id=incident.pk, body=huge).exists()
    services.incident_comment(incident=incident, actor=org.requester, body="[" * 1000)
    assert page.get(incident.get_absolute_url()).status_code == 200
