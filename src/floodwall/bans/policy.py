"""Ban policy: how long a decision bans for, and who may never be banned."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from floodwall.addresses import Allowlist
from floodwall.bans.escalation import escalated_bantime
from floodwall.model import Ban, Decision
from floodwall.settings.values import JailConfig

History = Callable[[str, float, "str | None"], int]
"""(key, since, jail or None for all jails) -> bans of the key since then."""


class IgnoreCheck(Protocol):
    """Asked before a jail bans whether to leave a key be (fail2ban's ignorecommand)."""

    text: str
    """What it runs, named in the refusal."""

    def ignores(self, key: str) -> bool:
        """True to leave `key` be."""
        ...


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
"""Never banned, whatever a configuration or a --force says: the host would cut itself off."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a key must not be banned."""

    key: str
    reason: str
    overridable: bool = False
    """An operator's --force may ban it anyway (an allowlist entry, an ignorecommand); never
    for this host's own addresses, loopback, live ssh peers or the fleet's nodes."""


class BanPolicy:
    """Turns decisions into bans: each jail's bantime, escalated for repeat offenders;
    refuses allowlisted and protected keys."""

    def __init__(self, jails: Mapping[str, JailConfig], allowlist: Allowlist, *,
                 ignore_checks: Mapping[str, IgnoreCheck] | None = None,
                 history: History | None = None, history_seconds: float = 30 * 86400.0,
                 rng: random.Random | None = None) -> None:
        self.jails = jails
        self.allowlist = allowlist
        """Never banned by any jail nor by hand (the [defaults] ignoreip)."""
        self.history = history
        self.history_seconds = history_seconds
        self.rng = rng or random.Random()
        self.protected: dict[str, str] = {}
        """Addresses never banned, with why (this host, ssh sessions, fleet nodes)."""
        self._protected_addresses: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address,
                                              str]] = []
        self._forceable: set[str] = set()
        self._jail_allowlists = {name: Allowlist(j.ignoreip) for name, j in jails.items()}
        self._ignore_checks = dict(ignore_checks or {})
        """By jail name: the check it asks before banning (the wiring builds them, e.g.
        enforcement.ignorecommand's, which run commands)."""

    def protect(self, addresses: Mapping[str, str], *, overridable: bool = False) -> None:
        """Add addresses that must never be banned, each with the reason; `overridable` ones
        (other people's live ssh sessions) an operator's --force may still ban."""
        for address in addresses:
            if not overridable:
                self._forceable.discard(address)
            elif address not in self.protected:
                self._forceable.add(address)
        self.protected.update(addresses)
        parsed = []
        for address, why in self.protected.items():
            try:
                parsed.append((ipaddress.ip_address(address), why))
            except ValueError:
                continue
        self._protected_addresses = parsed

    def refusal(self, key: str, jail: str | None = None) -> Refusal | None:
        """Why the key must never be banned (in that jail, or at all), or None. A prefix is
        refused when it holds a protected or allowlisted address, or overlaps loopback."""
        if key in self.protected:
            return Refusal(key, self.protected[key], overridable=key in self._forceable)
        if "/" in key:
            hard = self._holds_protected(key)
            if hard is not None:
                return hard
        elif key.startswith("127.") or key == "::1":
            return Refusal(key, "it is a loopback address")
        if key in self.allowlist or (jail is not None and key in self._jail_allowlists.get(
                jail, self.allowlist)):
            return Refusal(key, "it is (or holds) an allowlisted address (ignoreip)",
                           overridable=True)
        check = self._ignore_checks.get(jail) if jail is not None else None
        if check is not None and check.ignores(key):
            return Refusal(key, f"the jail's ignorecommand says to ignore it ({check.text})",
                           overridable=True)
        return None

    def _holds_protected(self, key: str) -> Refusal | None:
        """The refusal of a prefix holding loopback or a protected address, or None."""
        try:
            network = ipaddress.ip_network(key, strict=False)
        except ValueError:
            return None
        for loopback in LOOPBACK:
            if network.version == loopback.version and network.overlaps(loopback):
                return Refusal(key, f"it holds loopback ({loopback})")
        for address, why in self._protected_addresses:
            if address in network:
                return Refusal(key, f"it holds {address}: {why}",
                               overridable=str(address) in self._forceable)
        return None

    def keep_protection_of(self, other: BanPolicy) -> None:
        """Protect what `other` protects, as it does (a reload's new policy takes over)."""
        forceable = other._forceable
        self.protect({a: why for a, why in other.protected.items() if a not in forceable})
        self.protect({a: other.protected[a] for a in forceable}, overridable=True)

    def ban_for(self, decision: Decision, start: float) -> Ban | None:
        """The ban a decision earns from `start`, or None if the key must not be banned."""
        if self.refusal(decision.key, decision.jail) is not None:
            return None
        config = self.jails[decision.jail]
        previous = 0
        if config.escalation.increment and self.history is not None:
            scope = None if config.escalation.overalljails else decision.jail
            previous = self.history(decision.key, start - self.history_seconds, scope)
        bantime = escalated_bantime(config.escalation, config.bantime, previous, self.rng)
        reason = decision.reason
        if previous and bantime != config.bantime:
            reason += f"; repeat offender (ban #{previous + 1}), bantime escalated"
        return Ban(key=decision.key, jail=decision.jail, start=start,
                   until=None if bantime is None else start + bantime,
                   count=decision.count, origin="local", reason=reason, step=previous)
