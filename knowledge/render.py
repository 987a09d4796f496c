"""Kept for imports: the one Markdown renderer and sanitiser lives in ``core.markdown``."""

from core.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "render_markdown"]
