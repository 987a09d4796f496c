"""Markdown to safe HTML: the one renderer and sanitiser for everything users write as long
text (descriptions, comments and work notes, root causes, release notes, articles).

markdown-it-py renders (CommonMark with GitHub's tables, strikethrough and bare links; raw
HTML passes to the sanitiser, as before), then nh3 (an allowlist sanitiser) cleans: no
script, no event handler, no ``javascript:`` or ``data:`` URL survives. markdown-it-py
runs in time linear in the text: Python-Markdown, used before, took minutes on a comment of
30 000 ``[`` (its link and raw-HTML patterns backtrack), on every page view. Text written
before Markdown reads as it did: a line break stays a line break and a bare ``https://``
address becomes a link (http, https and mailto only; nh3 checks the scheme again).
``@username`` mentions are highlighted after sanitising, by wrapping text the sanitiser
already escaped, so a mention can never smuggle markup in. Rendered HTML is cached by the
text's digest, so a page shows a long text without rendering it again.
"""

from __future__ import annotations

import hashlib
import re

import nh3
from django.core.cache import cache
from markdown_it import MarkdownIt

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

# CommonMark + GitHub's tables, strikethrough and bare links ("gfm-like"); a single line
# break is a <br> ("breaks"), as in the plain text people wrote before Markdown.
_MD = MarkdownIt("gfm-like", {"breaks": True, "html": True, "linkify": True})
_MD.linkify.set({"fuzzy_link": False, "fuzzy_email": False})  # only http(s):// and mailto:

RENDER_CACHE_SECONDS = 24 * 3600


def _html(text: str) -> str:
    return _MD.render(text or "")


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes of ``html``."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def _key(text: str) -> str:
    return "md1:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML, without mention highlighting."""
    if not text:
        return ""
    key = _key(text)
    html = cache.get(key)
    if html is None:
        html = sanitise(_html(text))
        cache.set(key, html, RENDER_CACHE_SECONDS)
    return html


def render_markdown_many(texts: list[str]) -> list[str]:
    """``render_markdown`` of each text, read from the cache in one round trip (a page of
    comments would otherwise ask the cache once per comment)."""
    keys = [_key(t) if t else "" for t in texts]
    found = cache.get_many([k for k in keys if k])
    missing: dict[str, str] = {}
    out = []
    for text, key in zip(texts, keys, strict=True):
        if not key:
            out.append("")
            continue
        html = found.get(key)
        if html is None:
            html = missing.get(key)
        if html is None:
            html = missing[key] = sanitise(_html(text))
        out.append(html)
    if missing:
        cache.set_many(missing, RENDER_CACHE_SECONDS)
    return out


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
    # Code spans and fenced blocks quote text; a name in them mentions nobody. (Split, not
    # a lazy ```.*?``` pattern, which rescans the rest of the text from every opening.)
    outside = (text or "").split("```")[::2]
    plain = re.sub(r"`[^`\n]*`", " ", " ".join(outside))
    seen: dict[str, str] = {}
    for m in MENTION_RE.finditer(plain):
        seen.setdefault(m.group(1).lower(), m.group(1))
    return list(seen.values())
