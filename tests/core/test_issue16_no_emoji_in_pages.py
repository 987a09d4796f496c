"""Issue 16: no page relies on an emoji font. Debian's Chromium (and many Linux desktops)
has none, and the go-live gate's checks showed as empty boxes in the README's screenshot;
marks are text glyphs every font has (✓ ✗ ⚠), coloured by CSS."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Pictographs and the emoji-only symbols (✅ ❌ ❎ ⭐ …), not the text dingbats (✓ ✗ ⚠).
EMOJI = re.compile("[\U0001f000-\U0001faff\u2705\u274c\u274e\u2b50\u2b55\u231a\u231b\u23f0\u23f3]")


def test_no_template_or_page_script_uses_an_emoji() -> None:
    found = []
    for folder, pattern in (("templates", "*.html"), ("static/js", "*.js")):
        for path in (ROOT / folder).rglob(pattern):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if EMOJI.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}")
    for path in ROOT.glob("*/templates/**/*.html"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if EMOJI.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}")
    assert not found, f"emoji in: {found}"
