"""The README's screenshots (issue 16): every image it shows is there, a PNG 1280 px wide
(the size tools/screenshots.py takes), and small enough to commit; the script's shots and
the README's images are the same set, so a retake never leaves one out or behind."""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.screenshots import OUT, PAGES, VIEWPORT  # noqa: E402

README = ROOT / "README.md"
# ![alt](path) and <img src="path">, skipping remote images
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|<img[^>]+src=\"([^\"]+)\"")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 300 * 1024


def readme_images() -> list[str]:
    found = [a or b for a, b in IMAGE.findall(README.read_text(encoding="utf-8"))]
    return [p for p in found if not p.startswith(("http://", "https://", "data:"))]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no IHDR first"
    return struct.unpack(">II", head[16:24])


def test_every_image_the_readme_shows_exists_and_is_1280_wide() -> None:
    images = readme_images()
    assert images, "the README shows no screenshot"
    for image in images:
        path = ROOT / image
        assert path.is_file(), f"README.md shows {image}, which is not in the repository"
        width, _height = png_size(path)
        assert width == VIEWPORT["width"], f"{image} is {width} px wide, not 1280"
        assert path.stat().st_size <= MAX_BYTES, f"{image} is over 300 KB"


def test_the_readme_shows_every_shot_the_script_takes_and_nothing_stale() -> None:
    shown = {Path(image).resolve() for image in readme_images()}
    taken = {(OUT / f"{shot.name}.png").resolve() for shot in PAGES}
    assert taken <= shown, f"taken but not shown: {sorted(p.name for p in taken - shown)}"
    committed = {p.resolve() for p in OUT.glob("*.png")}
    assert committed <= taken, (
        f"not taken by the script: {sorted(p.name for p in committed - taken)}"
    )


def test_the_png_reader_refuses_what_is_not_a_png(tmp_path: Path) -> None:
    fake = tmp_path / "x.png"
    fake.write_bytes(b"<html>not found</html>" + b"\0" * 10)
    try:
        png_size(fake)
    except AssertionError:
        return
    raise AssertionError("a non-PNG was read as one")
