"""Issue 11: one Markdown renderer and sanitiser for every long text users write."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import Client

from core.markdown import highlight_mentions, mentioned_names, render_markdown, render_rich_text
from itsm import services
from tests.html_checks import executable_markup
from tests.knowledge.test_knowledge import XSS


def test_knowledge_keeps_its_import() -> None:
    from knowledge.render import render_markdown as old

    assert old is render_markdown


def test_plain_text_still_reads_well() -> None:
    html = render_markdown("Line one\nline two\n\nSee https://x.example/a?b=1&c=2.")
    assert "Line one<br>" in html
    assert '<a href="https://x.example/a?b=1&amp;c=2" rel="noopener noreferrer">' in html
    assert html.rstrip().endswith(".</p>")  # the full stop is not part of the link


def test_bare_url_cannot_break_out_of_its_attribute() -> None:
    html = render_markdown('http://x.example/"><script>alert(1)</script> https://"onmouseover=x')
    assert "<script" not in html
    assert 'href="https://&quot;' not in html


def test_mentions_are_highlighted_outside_code_and_links_only() -> None:
    html = render_rich_text("hi @ana.b. mail bob@example.com `@code` [@x](https://a.example)")
    assert '<span class="mention">@ana.b</span>.' in html
    assert "bob@example.com" in html and "@example" not in html.replace("bob@example", "")
    assert "<code>@code</code>" in html
    assert '<a href="https://a.example" rel="noopener noreferrer">@x</a>' in html
    assert mentioned_names("hi @Ana.B and @ana.b, `@code` @x_1") == ["Ana.B", "x_1"]


def test_highlighting_cannot_inject_markup() -> None:
    # What the sanitiser left escaped stays escaped: a name holds no markup characters.
    html = highlight_mentions("<p>@a&lt;script&gt; @&quot;x</p>")
    assert html == '<p><span class="mention">@a</span>&lt;script&gt; @&quot;x</p>'


def test_filter_returns_safe_html_that_resets_pre_wrap() -> None:
    out = Template("{% load tandem %}{{ text|markdown }}").render(Context({"text": "**b** <i>"}))
    assert out.startswith('<div class="md">') and "<strong>b</strong>" in out
    css = Path("static/css/tandem.css").read_text()
    assert ".md { white-space: normal;" in css


def _rendered(html: str, first: str, last: str) -> list[str]:
    """The rendered (``class="md"``) blocks of the page that hold the user's text."""
    blocks = []
    for chunk in html.split('<div class="md">')[1:]:
        if first in chunk:
            # A payload may swallow the rest of its text (an unclosed <style>): then the
            # block ends where its wrapper does.
            end = chunk.find(last)
            blocks.append(chunk[: end + len(last)] if end >= 0 else chunk.split("</div>")[0])
    return blocks


@pytest.mark.parametrize("payload", XSS)
def test_payloads_render_inert_on_the_incident_page_and_the_requesters_page(org, payload) -> None:  # type: ignore[no-untyped-def]
    incident = services.incident_create(
        actor=org.requester,
        service=org.service,
        title="Payslip",
        description=f"ZZA\n\n{payload}\n\nZZB",
        impact="high",
        urgency="medium",
    )
    services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
    services.incident_comment(incident=incident, actor=org.agent, body=f"ZZC\n\n{payload} ZZD")
    services.incident_comment(incident=incident, actor=org.requester, body=f"ZZE {payload} ZZF")
    for user in (org.agent, org.requester):
        client = Client()
        client.force_login(user)
        page = client.get(incident.get_absolute_url())
        assert page.status_code == 200
        html = page.content.decode()
        blocks = [
            b
            for first, last in (("ZZA", "ZZB"), ("ZZC", "ZZD"), ("ZZE", "ZZF"))
            for b in _rendered(html, first, last)
        ]
        assert len(blocks) >= 2, (user, payload)
        for block in blocks:
            assert executable_markup(block) == [], (user, payload, block)
