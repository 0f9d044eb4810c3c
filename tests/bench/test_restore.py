"""The restore benchmark, run small: after the table is deleted, a restart puts every ban back."""

from __future__ import annotations

import pytest

from bench.restore import describe, run
from tests.support.netns import skip_reason

REASON = skip_reason(("ip", "nft"))


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_every_ban_is_back_in_the_set_when_the_daemon_runs_again() -> None:
    restore = run(bans=1_500)
    assert restore.in_set == restore.bans == 1_500
    assert 0 < restore.seconds < 60  # the 2 s target is measured by `make bench`
    assert "1,500 in the set" in describe(restore)
