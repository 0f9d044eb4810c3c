"""Addresses as keys: normalising text to one spelling, and allowlists of networks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)
def normalise_address(text: str) -> str | None:
    """The canonical spelling of an IP address (IPv4-mapped IPv6 as IPv4), or None if not one.
    A scoped IPv6 address (`fe80::1%eth0`) is not one: no firewall set can hold its zone."""
    if "%" in text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def ban_key(text: str) -> str:
    """The one spelling of a ban key: a bare address (IPv4-mapped IPv6 as IPv4; a /32 or /128
    is its address) or a network prefix (host bits cleared); ValueError saying what is wrong.
    Every key that enters the ledger is spelt so."""
    stripped = text.strip()
    if "%" in stripped:
        raise ValueError(f"{text!r} carries an IPv6 zone id (after '%'), which no firewall set "
                         "holds; give the address without it")
    if "/" not in stripped:
        key = normalise_address(stripped)
        if key is None:
            raise ValueError(f"{text!r} is not an IP address or CIDR prefix; write an address "
                             "such as 198.51.100.7 or 2001:db8::7, or a prefix such as "
                             "198.51.100.0/24")
        return key
    try:
        network = ipaddress.ip_network(stripped, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or CIDR prefix; write a prefix such "
                         "as 198.51.100.0/24 or 2001:db8::/48") from None
    if network.prefixlen == network.max_prefixlen:
        return ban_key(str(network.network_address))
    return str(network)


def is_ban_key(text: str) -> bool:
    """Whether `text` is a ban key spelt as `ban_key` spells it."""
    try:
        return ban_key(text) == text
    except ValueError:
        return False


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
                if target.overlaps(network):
                    return True  # a prefix holding an allowlisted address is allowlisted
            elif target in network:
                return True
        return False
