"""Addresses as keys: normalising text to one spelling, and allowlists of networks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)
def normalise_address(text: str) -> str | None:
    """The canonical spelling of an IP address (IPv4-mapped IPv6 as IPv4), or None if not one."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def parse_key(key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | Network:
    """An address or network for a ban key; ValueError if it is neither."""
    if "/" in key:
        return ipaddress.ip_network(key, strict=False)
    return ipaddress.ip_address(key)


class Allowlist:
    """Networks that are never counted nor banned."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self._networks = tuple(networks)
        self._cache: dict[str, bool] = {}

    @property
    def networks(self) -> tuple[Network, ...]:
        """The allowlisted networks."""
        return self._networks

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not self._networks:
            return False
        hit = self._cache.get(key)
        if hit is None:
            hit = self._lookup(key)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def _lookup(self, key: str) -> bool:
        try:
            target = parse_key(key)
        except ValueError:
            return False
        for network in self._networks:
            if network.version != target.version:
                continue
            if isinstance(target, ipaddress.IPv4Network | ipaddress.IPv6Network):
                if target.subnet_of(network):  # type: ignore[arg-type]
                    return True
            elif target in network:
                return True
        return False
