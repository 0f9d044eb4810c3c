"""The enforcement seam: what a jail needs from the firewall, and the Enforcer protocol."""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from floodwall.errors import EnforcementError
from floodwall.model import Ban, Change
from floodwall.rates import Rate, parse_rate
from floodwall.settings.ports import port_ranges

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
"""A banned key once parsed: a single address is a /32 or /128 network."""

PROTOCOLS: tuple[str, ...] = ("tcp", "udp", "all")
"""Values accepted for `JailFirewall.protocol`."""
ACTIONS: tuple[str, ...] = ("drop", "throttle")
"""Values accepted for `JailFirewall.action`."""


@dataclass(frozen=True, slots=True)
class JailFirewall:
    """What the firewall needs to know about one jail: its name and the ports it guards."""

    name: str
    """Jail name, any text; backends map it to their own safe identifiers."""
    ports: tuple[str, ...] = ()
    """Ports to block for banned keys; empty blocks everything. Items: "80", "8000-8080"
    (or "8000:8080"), or service names such as "http" and "ssh"."""
    protocol: str = "tcp"
    """"tcp", "udp" or "all" (tcp and udp); used only when `ports` are given."""
    action: str = "drop"
    """"drop" every packet of a banned key, or "throttle" each source of it to `rate`."""
    rate: str | None = None
    """For "throttle": each source's budget, e.g. "10/second" or "100 kbytes/second"."""
    burst: int | None = None
    """For "throttle": packets (or the rate's byte unit) a source may send at once."""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise EnforcementError(
                f"jail '{self.name}': protocol '{self.protocol}' is not one of "
                f"{', '.join(PROTOCOLS)}; fix the jail's protocol setting")
        if self.action not in ACTIONS:
            raise EnforcementError(
                f"jail '{self.name}': action '{self.action}' is not one of "
                f"{', '.join(ACTIONS)}; fix the jail's action setting")
        if (self.action == "throttle") != (self.rate is not None) or (
                self.burst is not None and self.rate is None):
            raise EnforcementError(
                f"jail '{self.name}': action \"throttle\" needs a rate, and rate and burst "
                "apply only to it; set both action = \"throttle\" and rate, or neither")
        self.port_ranges()
        self.throttle()

    def throttle(self) -> Rate | None:
        """The per-source rate limit of a "throttle" jail (validated); None for "drop"."""
        if self.rate is None:
            return None
        try:
            return parse_rate(self.rate, self.burst)
        except (ValueError, TypeError) as problem:
            raise EnforcementError(
                f"jail '{self.name}': {problem}; fix the jail's rate setting") from None

    def port_ranges(self) -> tuple[tuple[int, int], ...]:
        """The ports as inclusive (first, last) number ranges; service names resolved."""
        try:
            return port_ranges(self.ports, self.protocol)
        except ValueError as problem:
            raise EnforcementError(f"jail '{self.name}': {problem}") from None


class Enforcer(Protocol):
    """A firewall backend that holds the banned keys of each jail."""

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """(Re)build the backend's own rules for these jails from scratch; idempotent."""
        ...

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Apply one batch of changes; `now` turns ban ends into remaining timeouts."""
        ...

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """setup(jails) and apply(changes) as one step: a firewall that can, never shows
        the jails' sets empty in between (no banned packet passes during a rebuild)."""
        ...

    def elements(self) -> dict[str, list[str]]:
        """Jail name -> keys currently held for it."""
        ...

    def close(self) -> None:
        """The daemon stops: undo what must not outlive it (kernel sets keep their bans)."""
        ...

    def teardown(self) -> None:
        """Remove everything the backend installed."""
        ...


class ApplyError(EnforcementError):
    """Some changes of a batch could not be applied; the others were."""

    def __init__(self, failures: Sequence[tuple[Change, str]]) -> None:
        self.failures = tuple(failures)
        lines = [f"  {change.action} {change.ban.key} (jail '{change.ban.jail}'): {reason}"
                 for change, reason in self.failures]
        super().__init__(f"{len(self.failures)} firewall change(s) failed, the rest were "
                         "applied:\n" + "\n".join(lines))


def parse_key(key: str) -> Network:
    """The key as a network (an address is a /32 or /128); EnforcementError if it is neither."""
    try:
        return ipaddress.ip_network(key)
    except ValueError as error:
        raise EnforcementError(
            f"key '{key}' is not an address or a network prefix with host bits clear "
            f"({error}); keys must be normalised before they reach the firewall") from None


def key_element(key: str) -> tuple[int, bool, str]:
    """(IP version, whether it is one address, canonical text) of a key; EnforcementError if
    it is not an address or prefix. A plain dotted IPv4 address (most keys) is checked by the
    C library alone, which makes restoring 100,000 bans at start cheap."""
    if "/" not in key and ":" not in key:
        try:
            if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, key)) == key:
                return 4, True, key
        except OSError:
            pass  # not dotted-quad IPv4: the general parser says what it is
    network = parse_key(key)
    return network.version, network.prefixlen == network.max_prefixlen, key_text(network)


def key_text(network: Network) -> str:
    """The canonical text of a parsed key: a bare address for a single host, else the prefix."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def timeout_seconds(ban: Ban, now: float) -> int | None:
    """Whole seconds the ban has left at `now` (rounded up, at least 1; 0 once expired);
    None for a permanent ban."""
    remaining = ban.remaining(now)
    if remaining is None:
        return None
    return max(1, math.ceil(remaining)) if remaining > 0 else 0

