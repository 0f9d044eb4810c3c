"""The validated configuration: what the daemon, replay and check-config run from."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FilterKind = Literal["access", "sshd", "regex"]


@dataclass(frozen=True, slots=True)
class AccessRule:
    """A condition on the fields of one access-log line; every given part must hold."""

    methods: frozenset[str] | None = None
    """Request methods that count (upper case); None = any."""
    statuses: frozenset[int] | None = None
    """Response statuses that count; None = any."""
    path: re.Pattern[str] | None = None
    """The path (without query) must match this (re.search)."""
    path_not: re.Pattern[str] | None = None
    """The path must NOT match this (re.search)."""
    vhost: re.Pattern[str] | None = None
    """The vhost must match this (re.search), when the format logs one."""

    def describe(self) -> str:
        """Short human text of the condition, for ban reasons."""
        parts = []
        if self.methods:
            parts.append("/".join(sorted(self.methods)))
        if self.path:
            parts.append(f"path ~ {self.path.pattern}")
        if self.path_not:
            parts.append(f"path !~ {self.path_not.pattern}")
        if self.statuses:
            parts.append("answered " + "/".join(str(s) for s in sorted(self.statuses)))
        if self.vhost:
            parts.append(f"vhost ~ {self.vhost.pattern}")
        return " ".join(parts) or "any request"


@dataclass(frozen=True, slots=True)
class JailConfig:
    """One jail: its sources, filter, counting rule, ban policy and firewall scope."""

    name: str
    logpath: tuple[str, ...]
    """Glob patterns of the files the jail reads (counted together)."""
    filter: FilterKind
    """'access' (a rule on access-log fields), 'sshd' (attempts), 'regex' (failregex with <HOST>)."""
    maxretry: int
    """A key is banned when it has this many failures within findtime."""
    findtime: float
    """Window length in seconds."""
    bantime: float | None
    """Ban length in seconds; None = permanent."""
    enabled: bool = True
    format: str = "auto"
    """Access-log format: 'auto', a known format name, or a LogFormat / log_format string."""
    format_kind: Literal["apache", "nginx"] = "apache"
    """Which syntax a custom `format` string uses."""
    rule: AccessRule = field(default_factory=AccessRule)
    """The access-log condition (filter = 'access')."""
    failregex: tuple[str, ...] = ()
    """Regexes with <HOST> (filter = 'regex')."""
    ignoreregex: tuple[str, ...] = ()
    """Lines matching one of these never count (filter = 'regex')."""
    ignoreip: tuple[Network, ...] = ()
    """Addresses and networks never counted nor banned (jail's own plus the defaults')."""
    ports: tuple[str, ...] = ()
    """Ports the ban applies to; empty = all ports."""
    protocol: Literal["tcp", "udp", "all"] = "tcp"
    """Protocol the ports belong to."""
    action: Literal["drop"] = "drop"
    """What a ban does to the source's packets."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole floodwall configuration."""

    path: str
    """File the configuration was read from."""
    state_dir: str = "/var/lib/floodwall"
    """Where the SQLite database lives."""
    socket: str = "/run/floodwall/control.sock"
    """Unix socket of the control interface (root only)."""
    backend: Literal["nftables", "dry-run"] = "nftables"
    """How bans are enforced."""
    table: str = "floodwall"
    """Name of floodwall's own nftables table (family inet)."""
    new_files_from: Literal["end", "start"] = "end"
    """Where reading starts in a log file seen for the first time at start-up."""
    max_line_bytes: int = 65536
    """Longer lines are cut to this many bytes."""
    ignoreip: tuple[Network, ...] = ()
    """Never counted nor banned by any jail or by hand ([defaults] ignoreip)."""
    jails: tuple[JailConfig, ...] = ()
    """Every jail, enabled or not."""

    @property
    def database(self) -> str:
        """Path of the SQLite state database."""
        return f"{self.state_dir.rstrip('/')}/floodwall.sqlite3"

    def enabled_jails(self) -> tuple[JailConfig, ...]:
        """The jails that run."""
        return tuple(j for j in self.jails if j.enabled)
