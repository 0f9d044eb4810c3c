"""The HTML report, written by `floodwall report --html` and opened in headless Chromium:
the charts and tables must actually be drawn, with nothing fetched and no console errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from floodwall.reporting.html import BAN_COLOUR, BAR_COLOUR, FAILURE_COLOUR
from tests.reporting.ledger import fill
from tests.support.chromium import colour_share, hex_colour, render, skip_reason
from tests.support.configs import floodwall_toml


def _write_report(tmp_path: Path) -> Path:
    fill(tmp_path / "state" / "floodwall.sqlite3").close()
    config = floodwall_toml(tmp_path, {"web": {"logpath": [tmp_path / "access.log"]}})
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "floodwall", "report", "--config",
                             str(config), "--since", "400d", "--html", str(out)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "6 bans of 4 addresses" in result.stdout and f"wrote {out}" in result.stdout
    return out


def test_the_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page = _write_report(tmp_path).read_text()
    assert "<script" not in page.replace("&lt;script&gt;", "")  # no script at all, none injected
    assert "http://" not in page and "https://" not in page and "src=" not in page
    assert "/&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.skipif(skip_reason() is not None, reason=f"LOUD SKIP: {skip_reason()}")
def test_the_html_report_renders_in_chromium(tmp_path: Path) -> None:
    shot = render(_write_report(tmp_path).as_uri(), tmp_path / "chromium")
    assert shot.console == [], shot.console
    timeline = (0, 80, 1200, 420)  # the top of the page: the bans/failures chart
    assert colour_share(shot.png, hex_colour(BAN_COLOUR), box=timeline) > 0.0005
    assert colour_share(shot.png, hex_colour(FAILURE_COLOUR), box=timeline) > 0.0005
    assert colour_share(shot.png, hex_colour(BAR_COLOUR), box=(0, 380, 1200, 1000)) > 0.005
    assert 'id="timeline"' in shot.dom and shot.dom.count("<rect") >= 10
    assert "<td>8.8.8.8</td>" in shot.dom  # the repeat offenders table
    assert "alert(1)" in shot.dom and "<script>alert" not in shot.dom
