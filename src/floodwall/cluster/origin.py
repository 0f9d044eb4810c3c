"""Origin lockdown: nftables rules for the protected origin server that accept its service
ports only from the fleet's gateways, so attackers cannot go around them."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Sequence

from floodwall.errors import ConfigError, EnforcementError
from floodwall.settings.values import ClusterConfig

DEFAULT_TABLE = "floodwall_origin"
"""nftables table (family inet) holding the origin's rules."""


async def fleet_gateways(config: ClusterConfig) -> list[str]:
    """Addresses the live nodes advertise in their heartbeats (asks the fleet's Redis)."""
    from floodwall.cluster.connection import connect
    client = connect(config)
    try:
        beats = await client.hgetall(f"{config.prefix()}nodes")
    finally:
        await client.aclose()
    return [address for text in beats.values()
            for address in json.loads(text).get("advertise", ())]


def origin_ruleset(gateways: Sequence[str], ports: Sequence[str],
                   table: str = DEFAULT_TABLE) -> str:
    """An `nft -f` script replacing `table` with rules admitting `ports` only from gateways."""
    networks = sorted({ipaddress.ip_network(g, strict=False) for g in gateways},
                      key=lambda n: (n.version, n))
    if not networks:
        raise ConfigError("no gateway addresses known: list them in [cluster] gateways, or "
                          "set [cluster] advertise on each gateway and let them run, so the "
                          "origin does not lock everyone out")
    if not ports:
        raise ConfigError("no ports to protect: set [cluster] origin_ports")
    ports_text = ", ".join(ports)
    lines = [f"table inet {table}", f"delete table inet {table}", f"table inet {table} {{"]
    for version, name, kind in ((4, "gateways4", "ipv4_addr"), (6, "gateways6", "ipv6_addr")):
        members = [str(n) if n.prefixlen < n.max_prefixlen else str(n.network_address)
                   for n in networks if n.version == version]
        elements = f" elements = {{ {', '.join(members)} }};" if members else ""
        lines.append(f"    set {name} {{ type {kind}; flags interval; auto-merge;{elements} }}")
    lines += [
        "    chain input {",
        "        type filter hook input priority filter - 1; policy accept;",
        '        iifname "lo" accept',
        f"        tcp dport {{ {ports_text} }} ip saddr @gateways4 accept",
        f"        tcp dport {{ {ports_text} }} ip6 saddr @gateways6 accept",
        f"        tcp dport {{ {ports_text} }} counter drop",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def install(script: str, nft: Sequence[str] = ("nft",)) -> None:
    """Load the ruleset atomically with `nft -f -`."""
    try:
        result = subprocess.run([*nft, "-f", "-"], input=script, capture_output=True,
                                text=True, timeout=30, check=False)
    except OSError as problem:
        raise EnforcementError(f"cannot run nft: {problem}; install nftables") from None
    if result.returncode != 0:
        raise EnforcementError(f"nft refused the origin rules: {result.stderr.strip()}")
