"""Prefix aggregation: when enough addresses of one /24 (or /64) are banned, ban the prefix."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from floodwall.model import Ban
from floodwall.settings.durations import format_duration
from floodwall.settings.values import AggregateConfig


def prefix_of(key: str, config: AggregateConfig) -> str | None:
    """The aggregation prefix holding an address key, or None for a key that is a prefix
    (or no address at all)."""
    if "/" in key:
        return None
    length = config.ipv6_prefix if ":" in key else config.ipv4_prefix
    try:
        return str(ipaddress.ip_network(f"{key}/{length}", strict=False))
    except ValueError:
        return None


def aggregate_ban(config: AggregateConfig, ban: Ban, active: Iterable[Ban], now: float
                  ) -> tuple[Ban, list[Ban]] | None:
    """(prefix ban, member bans it replaces) when `ban` completes a prefix, else None;
    `active` holds at least the active bans of the prefix (e.g. Ledger.in_group's)."""
    if not config.enabled:
        return None
    prefix = prefix_of(ban.key, config)
    if prefix is None:
        return None
    network = ipaddress.ip_network(prefix)
    members = [b for b in active if b.jail == ban.jail and "/" not in b.key
               and b.start >= now - config.within and ipaddress.ip_address(b.key) in network]
    if len(members) < config.count:
        return None
    untils = [b.until for b in members]
    until = None if None in untils else max(u for u in untils if u is not None)
    return (Ban(key=prefix, jail=ban.jail, start=now, until=until,
                count=sum(b.count for b in members), origin="local",
                reason=f"{len(members)} addresses of {prefix} banned within "
                       f"{format_duration(config.within)}, limit {config.count} (aggregated)"),
            members)
