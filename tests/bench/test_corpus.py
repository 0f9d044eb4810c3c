"""The corpus benchmark, run on a few filters: both tools read the same sample logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.corpus import describe, instances, run
from tests.matching.fail2ban import f2b_samples as samples

REASON = (None if samples.package_tests_dir() is not None and shutil.which("fail2ban-regex")
          else "Debian's fail2ban package is not installed: `apt-get install -y fail2ban`")


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_every_filter_and_option_set_gets_its_own_log(tmp_path: Path) -> None:
    found = instances(tmp_path)
    assert len(found) == 128  # fail2ban 1.0.2: 91 filters, 128 filter/option sets
    lines = sum(item.log.read_text(encoding="utf-8").count("\n") for item in found)
    assert lines == 1627
    assert any(item.options.get("mode") == "aggressive" for item in found)


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_both_tools_run_every_instance_measured() -> None:
    figures = run(runs=1, only=3)
    assert figures.instances == 3 and figures.lines > 0
    assert figures.floodwall_failed == 0 and figures.fail2ban_failed == 0
    assert figures.floodwall_seconds > 0 and figures.fail2ban_seconds > 0
    assert "3 filter/option sets" in describe(figures)
