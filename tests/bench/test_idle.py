"""The idle benchmark, run small: the daemon follows every file and its CPU is read."""

from __future__ import annotations

import pytest

from bench.idle import describe, run
from tests.support.netns import skip_reason

REASON = skip_reason(("ip", "nft"))


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_a_quiet_daemon_over_many_files_is_measured() -> None:
    idle = run(files=120, seconds=1.0)  # raises unless all 120 files are followed
    assert idle.files == 120 and idle.seconds >= 1.0
    assert 0 <= idle.core_share < 0.5  # loose: the 1% target is measured by `make bench`
    assert "120 followed files" in describe(idle)
