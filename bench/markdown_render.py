#!/usr/bin/env python
"""Markdown rendering cost: how long the one renderer (core.markdown) takes, uncached, on
ordinary and on hostile text of the longest comment allowed (COMMENT_MAX_CHARS). Every page
that shows a comment renders it (once: the HTML is then cached), so none of these may take
long.

    .venv/bin/python bench/markdown_render.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()
    from core.markdown import _html, sanitise
    from core.services import COMMENT_MAX_CHARS

    n = COMMENT_MAX_CHARS
    cases = {
        "prose with a list, a table, code": (
            "Steps:\n\n1. Open **Payslips**\n2. See `P60`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "See https://example.com/x and @support2.\n\n"
        )
        * (n // 120),
        "[ repeated": "[" * n,
        "![ repeated": "![" * (n // 2),
        "< repeated": "<" * n,
        "<a  repeated": "<a " * (n // 3),
        "*a repeated": "*a" * (n // 2),
        "[a]( repeated": "[a](" * (n // 4),
        "``` repeated": "```" * (n // 3),
    }
    print(f"{'text (' + format(n, ',') + ' characters)':<36} {'median of 5':>12}")
    for name, text in cases.items():
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            sanitise(_html(text[:n]))
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:<36} {statistics.median(times):9.1f} ms")


if __name__ == "__main__":
    main()
