"""What in a piece of HTML a browser would run: the XSS tests ask this of rendered user text
instead of looking for substrings (``javascript:`` shown as text is harmless; as a link's
address it is not)."""

from __future__ import annotations

from html.parser import HTMLParser

FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "frame",
    "svg",
    "math",
    "object",
    "embed",
    "style",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "button",
    "details",
    "body",
    "mglyph",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcset"}
SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#", "?")


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None:
                address = "".join(value.split()).lower()
                if ":" in address.split("/", 1)[0] and not address.startswith(SAFE_SCHEMES):
                    self.found.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def executable_markup(html: str) -> list[str]:
    """Each tag, event handler, style or non-web URL in ``html`` that could run or load
    something; empty when the HTML is inert."""
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.found
