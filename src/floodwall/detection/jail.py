"""A running jail: its filter's failures counted in sliding windows, turned into decisions."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import replace

from floodwall.addresses import Allowlist
from floodwall.detection.windows import SlidingWindows
from floodwall.matching.entries import Entry
from floodwall.matching.filters import LineFilter
from floodwall.model import Decision, Failure

log = logging.getLogger("floodwall")
from floodwall.settings.durations import format_duration
from floodwall.settings.values import JailConfig

FUTURE_TOLERANCE = 5.0
"""Seconds a failure may be dated ahead of the clock (clocks of log writers drift) before it
counts at the clock's time instead: a line dated in the future would otherwise anchor its
key's window there, and the key's real failures would fall out of it (immune until then)."""


class Jail:
    """Counts one jail's failures across all of its files and decides when a key crosses."""

    def __init__(self, config: JailConfig, line_filter: LineFilter, allowlist: Allowlist,
                 max_keys: int | None = None) -> None:
        self.config = config
        self.name = config.name
        self.filter = line_filter
        self.allowlist = allowlist
        self.max_keys = max_keys
        """Keys counted at most (None: no limit)."""
        self.windows = SlidingWindows(config.maxretry, config.findtime, max_keys)
        self._ipv6_prefix = config.ipv6_key_prefix
        self.failures_seen = 0
        """Failures counted since start (allowlisted ones excluded)."""
        self.future_dated = 0
        """Failures dated more than FUTURE_TOLERANCE ahead of the clock (counted at it)."""

    def take_counts(self, previous: Jail) -> None:
        """Count on from where `previous` (this jail before a reload) left off, under this
        jail's maxretry, findtime and key limit."""
        self.windows = previous.windows
        self.windows.reconfigure(self.config.maxretry, self.config.findtime, self.max_keys)
        self.failures_seen = previous.failures_seen
        self.future_dated = previous.future_dated

    def on_entry(self, entry: Entry, now: float | None = None) -> list[Decision]:
        """Feed one parsed line; returns the decisions it triggers. With `now` (a daemon on
        the clock; a replay has none), a failure dated ahead of it counts at `now`."""
        decisions: list[Decision] = []
        for failure in self.filter.failures(entry):
            if now is not None and failure.time > now + FUTURE_TOLERANCE:
                self.future_dated += 1
                if self.future_dated == 1:
                    log.warning("jail %s: %s line %d is dated %.0f s ahead of this host's "
                                "clock; it counts at the clock's time (further ones silently; "
                                "`floodwall status` counts them)", self.name, failure.path,
                                failure.lineno, failure.time - now)
                failure = replace(failure, time=now)
            decision = self.on_failure(failure)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def on_failure(self, failure: Failure) -> Decision | None:
        """Count one failure; a decision when its key reaches maxretry within findtime."""
        if failure.key in self.allowlist:
            return None
        if self._ipv6_prefix < 128 and ":" in failure.key and "/" not in failure.key:
            # An attacker owns the whole /64: count (and ban) the prefix, not each address.
            failure = replace(failure, key=str(ipaddress.ip_network(
                f"{failure.key}/{self._ipv6_prefix}", strict=False)))
        self.failures_seen += 1
        crossing = self.windows.add(failure)
        if crossing is None:
            return None
        config = self.config
        reason = (f"{crossing.count} failures ({self._what()}) within "
                  f"{format_duration(config.findtime)}, limit {config.maxretry}")
        return Decision(self.name, failure.key, failure.time, reason, crossing.failures,
                        crossing.count)

    def on_ban(self, key: str) -> None:
        """The key was banned (by this jail, or from outside the counting: by hand, imported,
        from the fleet): its count starts over."""
        self.windows.forget(key)

    def expire(self, now: float) -> None:
        """Release keys whose windows emptied by `now`."""
        self.windows.expire(now)

    def _what(self) -> str:
        if self.config.filter == "access":
            return self.config.rule.describe()
        if self.config.filter == "sshd":
            return "failed ssh authentication attempts"
        return "lines matching failregex"
