"""The memory benchmark measures what it says, on a small run."""

from __future__ import annotations

from bench import memory


def test_limited_run_keeps_the_limit_and_counts_evictions() -> None:
    cost = memory.floodwall(20_000, max_keys=1_000)
    assert cost.kept <= 1_000 and cost.evicted >= 19_000
    assert cost.kept + cost.evicted == cost.keys


def test_unlimited_run_keeps_every_key_and_costs_memory() -> None:
    cost = memory.floodwall(50_000)
    assert cost.kept == 50_000 and cost.evicted == 0
    assert cost.bytes_per_key > 30  # an address string alone is more than that
