"""Headless Chromium for tests: load a page, take a screenshot, dump the DOM, and collect
what the page wrote to its console (any line there is a failure for our pages).

    shot = render("http://127.0.0.1:8080/", tmp_path)
    assert shot.console == []
    assert colour_share(shot.png, (0xC0, 0x39, 0x2B), box=(0, 0, 1200, 600)) > 0.001
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--log-level=0")
TIMEOUT = 60.0
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


def chromium() -> str | None:
    """Path of Debian's chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    if chromium() is None:
        return "chromium is not installed (make system-deps installs Debian's chromium)"
    return None


@dataclass(frozen=True)
class Rendered:
    """What Chromium made of a page."""

    png: Path
    dom: str
    console: list[str]


def render(url: str, workdir: Path, *, width: int = 1200, height: int = 1400,
           virtual_time_ms: int = 0) -> Rendered:
    """Screenshot and DOM of `url` (after `virtual_time_ms` of page time, to let timers run)."""
    binary = chromium()
    assert binary is not None, skip_reason()
    workdir.mkdir(parents=True, exist_ok=True)
    png = workdir / "screenshot.png"
    extra = [f"--virtual-time-budget={virtual_time_ms}"] if virtual_time_ms else []
    console: list[str] = []
    for mode in ([f"--screenshot={png}", f"--window-size={width},{height}"], ["--dump-dom"]):
        profile = workdir / f"profile-{mode[0].lstrip('-').split('=')[0]}"
        result = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, *mode,
                                 url], capture_output=True, text=True, timeout=TIMEOUT,
                                check=False)
        assert result.returncode == 0, f"chromium failed: {result.stderr[-2000:]}"
        console += [m.group(1) for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
        if mode == ["--dump-dom"]:
            dom = result.stdout
    assert png.exists(), "chromium wrote no screenshot"
    return Rendered(png, dom, console)


def colour_share(png: Path, colour: tuple[int, int, int], *, box: tuple[int, int, int, int]
                 | None = None, tolerance: int = 12) -> float:
    """Fraction of the pixels (in `box`: left, top, right, bottom) close to `colour`."""
    image = Image.open(png).convert("RGB")
    if box is not None:
        image = image.crop(box)
    counts = image.getcolors(maxcolors=image.width * image.height) or []
    near = sum(count for count, pixel in counts
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False)))
    return near / max(1, image.width * image.height)


def hex_colour(text: str) -> tuple[int, int, int]:
    """(r, g, b) of "#rrggbb"."""
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
