"""Tests of origin lockdown: the nftables rules, and `floodwall origin-rules --apply` in a
real namespace where only the gateway may reach the service ports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from floodwall.cluster.origin import origin_ruleset
from floodwall.errors import ConfigError
from tests.support.configs import floodwall_toml
from tests.support.netns import Link, network, skip_reason, start_tcp_listener, wait_for_tcp
from tests.support.redis_server import RedisServer


def test_the_ruleset_admits_the_ports_only_from_gateways() -> None:
    script = origin_ruleset(["198.51.100.7", "198.51.100.16/28", "2001:db8::1"],
                            ["80", "443"], "lockdown")
    assert script.startswith("table inet lockdown\ndelete table inet lockdown\n")
    assert "type ipv4_addr; flags interval; auto-merge; elements = { 198.51.100.7, " \
           "198.51.100.16/28 };" in script
    assert "elements = { 2001:db8::1 }" in script
    assert "tcp dport { 80, 443 } ip saddr @gateways4 accept" in script
    assert script.index("accept\n        tcp dport { 80, 443 } counter drop") > 0
    with pytest.raises(ConfigError, match="no gateway addresses known"):
        origin_ruleset([], ["80"])


@pytest.mark.skipif(skip_reason(("ip", "nft")) is not None,
                    reason=f"LOUD SKIP: {skip_reason(('ip', 'nft'))}")
def test_origin_rules_apply_lets_only_the_fleet_reach_the_service(
        tmp_path: Path, redis_server: RedisServer) -> None:
    # A live node advertises an address in its heartbeat: it is a gateway too.
    redis_server.client().hset("floodwall:edge:nodes", "gw2", json.dumps(
        {"time": 0, "advertise": ["192.0.2.2"]}))
    config = floodwall_toml(tmp_path, {"web": {"logpath": [tmp_path / "access.log"]}},
                            floodwall={"backend": None, "new_files_from": None},
                            cluster={"url": redis_server.url, "node": "origin", "fleet": "edge",
                                     "gateways": ["192.0.2.1"],
                                     "origin_ports": [80, "8000-8080"]})
    links = [Link(0, 1, ("192.0.2.10/24",), ("192.0.2.1/24", "192.0.2.2/24")),
             Link(0, 2, ("198.51.100.10/24",), ("198.51.100.7/24",))]
    with network(3, links) as (origin, gateway, stranger):
        start_tcp_listener(origin, [80, 8001, 22])
        wait_for_tcp(stranger, "198.51.100.10", 80)
        result = origin.run([sys.executable, "-m", "floodwall", "origin-rules", "--apply",
                             "--config", str(config)], check=False)
        assert result.returncode == 0, result.stderr
        assert "elements = { 192.0.2.1, 192.0.2.2 }" in result.stdout
        assert gateway.connects("192.0.2.10", 80, source="192.0.2.1")
        assert gateway.connects("192.0.2.10", 8001, source="192.0.2.2")  # from the heartbeat
        assert not stranger.connects("198.51.100.10", 80, timeout=0.3)
        assert not stranger.connects("198.51.100.10", 8001, timeout=0.3)
        assert stranger.connects("198.51.100.10", 22)  # other services are left alone
        listing = origin.run(["nft", "list", "table", "inet", "floodwall_origin"]).stdout
        assert "counter packets" in listing
        # Applying again replaces the table instead of failing or doubling it.
        again = subprocess.run(origin.argv([sys.executable, "-m", "floodwall", "origin-rules",
                                            "--apply", "--no-fleet", "--config", str(config)]),
                               capture_output=True, text=True, timeout=60, check=False)
        assert again.returncode == 0, again.stderr
        assert not gateway.connects("192.0.2.10", 80, source="192.0.2.2", timeout=0.3)
        assert gateway.connects("192.0.2.10", 80, source="192.0.2.1")
