"""The daemon flood benchmark, run small: every attacker banned in the set, no one else, and
the figures it reports are consistent with what it wrote."""

from __future__ import annotations

import ipaddress

import pytest

from bench.daemon import _address, describe, run
from tests.support.netns import skip_reason

REASON = skip_reason(("ip", "nft"))


def test_attacker_addresses_are_unique_and_in_the_benchmarking_range() -> None:
    benchmarking = ipaddress.ip_network("198.18.0.0/15")
    addresses = [_address(n) for n in range(70_000)]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(a) in benchmarking for a in addresses)


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_a_short_flood_bans_every_attacker_and_only_them() -> None:
    flood = run(rate=4000, seconds=3.0, vhosts=30, attackers_per_second=10, preload=50)

    assert flood.attackers >= 25
    assert flood.banned == flood.attackers
    assert flood.false_bans == 0
    assert flood.preloaded == 50
    assert flood.lines_written >= 4000 * 3 * 0.8
    assert flood.keeps_up, describe(flood)
    # Loose bound: a shared test machine; the target itself is measured by `make bench`.
    assert 0 < flood.latency_p50_ms <= flood.latency_p99_ms <= flood.latency_max_ms < 2000
    assert "keeps up: yes" in describe(flood)
