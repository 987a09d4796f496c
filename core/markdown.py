"""Markdown to safe HTML: the one renderer and sanitiser for everything users write as long
text (descriptions, comments and work notes, root causes, release notes, articles).

Python-Markdown renders, then nh3 (an allowlist sanitiser) cleans: no script, no event
handler, no ``javascript:`` or ``data:`` URL survives. Text written before Markdown reads
as it did: a line break stays a line break (``nl2br``) and a bare ``https://`` address
becomes a link (http, https and mailto only; nh3 checks the scheme again). ``@username``
mentions are highlighted after sanitising, by wrapping text the sanitiser already
escaped, so a mention can never smuggle markup in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
import nh3
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "mark",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# A mention: ``@`` at the start or after a character that cannot be part of a name or an
# address (so ``bob@example.com`` is not one), then a username (letters, digits and
# ``_ . + -``, ending in a letter, digit or ``_`` so "@ana." leaves the full stop out).
MENTION_RE = re.compile(r"(?<![\w@.+-])@([\w](?:[\w.+-]{0,148}[\w])?)")

# A bare address in running text (not already inside <...>, a Markdown link or a quote).
_BARE_URL = r"(?<![<(\[\"'=/\w])(https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]])"


class _BareUrlProcessor(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element, int, int]:  # type: ignore[override]
        el = etree.Element("a")
        el.set("href", m.group(1))
        el.text = m.group(1)
        return el, m.start(0), m.end(0)


class _BareUrlExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # After the escape and code patterns (higher priority runs first), before links.
        md.inlinePatterns.register(_BareUrlProcessor(_BARE_URL, md), "tandem_bare_url", 95)


def _html(text: str) -> str:
    return markdown.markdown(
        text or "",
        extensions=["fenced_code", "tables", "sane_lists", "nl2br", _BareUrlExtension()],
    )


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes of ``html``."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML, without mention highlighting."""
    return sanitise(_html(text))


_TAG = re.compile(r"(<[^>]*>)")
_SKIP = {"a", "code", "pre"}


def highlight_mentions(html: str) -> str:
    """Wrap ``@name`` in text (not inside links or code) of sanitised ``html`` in
    ``<span class="mention">``. Names hold no markup characters, and the text between
    tags is already escaped, so nothing new can be injected."""
    out: list[str] = []
    depth = 0
    for part in _TAG.split(html):
        if part.startswith("<"):
            name = part[1:].lstrip("/").split(None, 1)[0].rstrip(">/").lower() if part else ""
            if name in _SKIP and not part.endswith("/>"):
                depth += -1 if part.startswith("</") else 1
            out.append(part)
        elif depth <= 0 and "@" in part:
            out.append(MENTION_RE.sub(r'<span class="mention">@\1</span>', part))
        else:
            out.append(part)
    return "".join(out)


def render_rich_text(text: str) -> str:
    """What pages show for long text a user wrote: Markdown, sanitised, with mentions."""
    return highlight_mentions(render_markdown(text))


def mentioned_names(text: str) -> list[str]:
    """The distinct usernames ``@mentioned`` in ``text`` (outside code), in order."""
    # Code spans and fenced blocks quote text; a name in them mentions nobody.
    plain = re.sub(r"```.*?```|`[^`\n]*`", " ", text or "", flags=re.DOTALL)
    seen: dict[str, str] = {}
    for m in MENTION_RE.finditer(plain):
        seen.setdefault(m.group(1).lower(), m.group(1))
    return list(seen.values())
