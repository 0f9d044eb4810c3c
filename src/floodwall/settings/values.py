"""The validated configuration's values: what the daemon, replay and check-config run from.

The ground floor: this module imports no room. The loader (floodwall.config) makes these
values from files; every other room only reads them."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from floodwall.settings.filters import FilterDefinition
from floodwall.settings.formula import BanFormula

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FilterKind = Literal["access", "sshd", "regex", "fail2ban"]


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
class EscalationConfig:
    """fail2ban's bantime.increment options: repeat offenders get longer bans."""

    increment: bool = False
    """Grow the ban of an address that was banned before."""
    factor: float = 1.0
    """bantime.factor: banFactor in the formula, or a common multiplier."""
    formula: BanFormula | None = None
    """bantime.formula (checked arithmetic); the default doubles: Time * 2**Count * factor."""
    multipliers: tuple[float, ...] = ()
    """bantime.multipliers: Time * factor * multipliers[Count] (the last one repeats)."""
    maxtime: float | None = None
    """bantime.maxtime: the ban never grows beyond this (seconds)."""
    rndtime: float | None = None
    """bantime.rndtime: up to this many random seconds added, so expiry can't be predicted."""
    overalljails: bool = False
    """bantime.overalljails: count previous bans of the address in every jail, not just this one."""


@dataclass(frozen=True, slots=True)
class RecidiveConfig:
    """Bans an address in every port after `maxretry` bans (any jail) within `findtime`."""

    enabled: bool = False
    maxretry: int = 5
    findtime: float = 86400.0
    bantime: float | None = 604800.0


@dataclass(frozen=True, slots=True)
class AggregateConfig:
    """Ban a whole /24 (or /64) when enough of its addresses are banned within a period."""

    enabled: bool = False
    count: int = 5
    """Addresses of one prefix banned (in one jail) within `within` that make the prefix ban."""
    within: float = 3600.0
    ipv4_prefix: int = 24
    ipv6_prefix: int = 64


@dataclass(frozen=True, slots=True)
class Fail2banFilterConfig:
    """A jail's fail2ban filter (filter = "fail2ban"): the filter.d file as read with the
    arguments its jail gives it."""

    definition: FilterDefinition
    """The filter file resolved with the jail's options (its .local overlays read with it)."""
    options: tuple[tuple[str, str], ...] = ()
    """Options handed to the filter: the jail's own, `name[key=value]` arguments, logtype."""
    logtimezone: str | None = None
    """The jail's logtimezone; None = the host's local time."""

    @property
    def path(self) -> str:
        """The filter.d file."""
        return self.definition.path


@dataclass(frozen=True, slots=True)
class CommandActionConfig:
    """A fail2ban action.d file run as commands, its static tags already substituted."""

    name: str
    """The action's name in its jail (fail2ban's actname)."""
    path: str
    """The action.d file it was read from."""
    commands: tuple[tuple[str, str], ...]
    """(command name, command text) for the commands the action defines (COMMANDS in
    fail2ban_actions); dynamic tags (<ip>, <failures>, <F-USER>…) are put in at ban time."""
    tags: tuple[tuple[str, str], ...] = ()
    """Resolved options that dynamic tags may still name (e.g. conditional `x?family=inet6`)."""
    timeout: float = 60.0
    """Seconds one command may run."""
    norestored: bool = False
    """Bans restored at start (already active before) are not given to this action."""
    start_on_demand: bool = False
    """actionstart runs before the first ban of each address family, not at the jail's
    start (fail2ban's default for actions with family-conditional options)."""
    repair_on_unban: bool = False
    """A failed actionunban may repair the environment (actionrepair) like a failed ban."""


@dataclass(frozen=True, slots=True)
class PythonActionConfig:
    """A fail2ban Python action (action.d/NAME.py), run with fail2ban's own Python package."""

    name: str
    """The action's name in its jail (fail2ban's actname; default: the file name)."""
    path: str
    """The action.d/*.py file."""
    options: tuple[tuple[str, str], ...] = ()
    """Keyword arguments for the action's class, from `action = NAME.py[key=value, …]`."""
    bantime: float | None = 600.0
    """The jail's ban time (what the action's jail.actions.getBanTime() answers)."""
    timeout: float = 60.0
    """Seconds one call of the action may take."""


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Where a jail reads the systemd journal (fail2ban's `backend = systemd`)."""

    matches: tuple[str, ...] = ()
    """journalctl match arguments (`FIELD=value`, `+` between alternatives); none: all."""
    directory: str | None = None
    """Journal folder to read instead of the system's (`journalpath`)."""
    files: tuple[str, ...] = ()
    """Journal files to read instead of the system's (`journalfiles`)."""
    system: bool = False
    """Only the system's journal, not users' (journalctl --system; journalflags 4, and
    fail2ban's default when no journalpath or journalfiles is given)."""
    user: bool = False
    """The current user's journal (journalctl --user; journalflags 8)."""
    namespace: str | None = None
    """The journal namespace to read (journalctl --namespace; fail2ban's `namespace`)."""


@dataclass(frozen=True, slots=True)
class JailConfig:
    """One jail: its sources, filter, counting rule, ban policy and firewall scope."""

    name: str
    logpath: tuple[str, ...]
    """Glob patterns of the files the jail reads (counted together)."""
    filter: FilterKind
    """'access' (a rule on access-log fields), 'sshd' (attempts), 'regex' (failregex with
    <HOST>), 'fail2ban' (a filter.d file)."""
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
    ignorecommand: str | None = None
    """fail2ban's ignorecommand: run with <ip> before a ban; exit 0 means never ban it."""
    ignorecache: tuple[int, float] | None = None
    """fail2ban's ignorecache: (max-count, max-time) of the ignorecommand's answers kept
    per address; None: floodwall's default (10,000 answers, 5 minutes each)."""
    ports: tuple[str, ...] = ()
    """Ports the ban applies to; empty = all ports."""
    protocol: Literal["tcp", "udp", "all"] = "tcp"
    """Protocol the ports belong to."""
    action: Literal["drop", "throttle"] = "drop"
    """What a ban does to the source's packets: drop them all, or throttle each source."""
    rate: str | None = None
    """With action "throttle": each source's budget, e.g. "10/second", "100 kbytes/second"."""
    burst: int | None = None
    """With action "throttle": packets (or the rate's byte unit) a source may send at once."""
    scope: Literal["local", "fleet"] = "local"
    """Where failures are counted: on this node alone, or across the fleet (needs [cluster])."""
    escalation: EscalationConfig = field(default_factory=EscalationConfig)
    """How the bans of repeat offenders grow."""
    ipv6_key_prefix: int = 128
    """IPv6 sources are counted and banned per prefix of this length (64: per /64)."""
    fail2ban: Fail2banFilterConfig | None = None
    """The fail2ban filter the jail runs (filter = "fail2ban")."""
    journal: JournalConfig | None = None
    """The systemd journal the jail reads (besides its logpath, usually instead)."""
    commands: tuple[CommandActionConfig | PythonActionConfig, ...] = ()
    """fail2ban actions run on ban and unban (commands, or Python actions), besides (or
    instead of) the firewall."""
    firewall: bool = True
    """Ban in floodwall's own firewall sets; False when the jail only runs command actions."""
    origin: str = ""
    """Where the jail was defined, for messages ("" = the floodwall.toml itself)."""


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
    line_timeout: float | None = 0.25
    """Seconds one line may take in a jail's fail2ban filter before it is skipped and the
    slow regex reported (a regex that backtracks without end); None: no bound."""
    max_keys: int | None = 1_000_000
    """Keys (addresses) each jail counts at most; past it the oldest keys with the fewest
    failures, all below half their threshold, are forgotten. None: no limit."""
    ignoreip: tuple[Network, ...] = ()
    """Never counted nor banned by any jail or by hand ([defaults] ignoreip)."""
    history: float = 30 * 86400.0
    """Ended bans are kept this long (seconds) for escalation and `why`; active bans forever."""
    recidive: RecidiveConfig = field(default_factory=RecidiveConfig)
    """The recidive rule ([recidive])."""
    aggregate: AggregateConfig = field(default_factory=AggregateConfig)
    """Prefix aggregation ([aggregate])."""
    protect_ssh_sessions: bool = True
    """Never ban the peers of established ssh sessions (detected at start and on ban)."""
    jails: tuple[JailConfig, ...] = ()
    """Every jail, enabled or not."""
    cluster: ClusterConfig | None = None
    """The fleet this node shares bans and counts with ([cluster]); None = works alone."""
    recon: ReconConfig = field(default_factory=lambda: ReconConfig())
    """Enrichment of banned addresses ([recon])."""
    http: HttpConfig = field(default_factory=lambda: HttpConfig())
    """Dashboard, API and metrics ([http])."""
    logging: LoggingConfig = field(default_factory=lambda: LoggingConfig())
    """Log format ([logging])."""
    fail2ban_dir: str | None = None
    """fail2ban configuration directory whose enabled jails run too ([fail2ban] config_dir)."""

    @property
    def database(self) -> str:
        """Path of the SQLite state database."""
        return f"{self.state_dir.rstrip('/')}/floodwall.sqlite3"

    def enabled_jails(self) -> tuple[JailConfig, ...]:
        """The jails that run."""
        return tuple(j for j in self.jails if j.enabled)


@dataclass(frozen=True, slots=True)
class ReconConfig:
    """[recon]: who the banned addresses are (rDNS, ASN, country, RDAP, backdoor ports)."""

    enabled: bool = False
    """Enrich every banned address in the background (on when a [recon] table is present)."""
    resolver: str = ""
    """DNS server for reverse lookups as "address" or "address:port"; "" = the system's."""
    rdap_url: str = "https://rdap.org"
    """RDAP service queried as URL/ip/ADDRESS (a bootstrap redirector or an RIR); "" = off."""
    mmdb: tuple[str, ...] = ()
    """MaxMind-format databases (ASN and/or country); they win over the bundled data."""
    timeout: float = 3.0
    """Seconds one DNS, RDAP or port check may take."""
    cache_ttl: float = 7 * 86400.0
    """How long an answer is kept before it is looked up again."""
    failure_ttl: float = 3600.0
    """How long a failed look-up is remembered (and not retried)."""
    rdap_interval: float = 1.0
    """Seconds between two RDAP queries (rate limit)."""
    backdoor_check: bool = False
    """Connect to banned addresses on backdoor_ports. Off by default: it touches the
    attacker's host, which the operator must decide to do."""
    backdoor_ports: tuple[int, ...] = (9999, 4444, 5555, 31337, 1337, 6667, 12345, 27374)
    """Ports of known backdoors and remote-access tools to check."""
    backdoor_interval: float = 1.0
    """Seconds between the port checks of two addresses (rate limit)."""


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """[http]: the dashboard, JSON API and Prometheus metrics the daemon serves."""

    enabled: bool = False
    """Serve HTTP at all."""
    listen: str = "127.0.0.1:9180"
    """Address and port ("[::1]:9180" for IPv6); loopback unless you mean otherwise."""
    token_file: str = ""
    """Bearer token for state changes (made with mode 0600 if missing); "" = in state_dir."""


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """[logging]: how the daemon writes its log."""

    json: bool = False
    """One JSON object a line, with the enrichment known so far on ban and unban."""

@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """How this node reaches its fleet's Redis, and what it tells the fleet about itself."""

    url: str
    """redis://host:port/db, rediss:// (TLS) or unix:///path/to/redis.sock."""
    node: str
    """This node's name in the fleet (default: the host name); shown as a ban's origin."""
    fleet: str = "default"
    """Fleet name: nodes sharing a Redis and a fleet name act as one."""
    username: str | None = None
    """Redis ACL user (Redis 6+); None uses the URL's or the default user."""
    password: str | None = None
    """Redis password (requirepass or the ACL user's); None uses the URL's, if any."""
    tls_ca: str | None = None
    """CA certificates (PEM) that sign the Redis server's certificate (rediss://)."""
    tls_cert: str | None = None
    """Client certificate (PEM) for Redis servers that require one."""
    tls_key: str | None = None
    """Key of the client certificate."""
    tls_verify: bool = True
    """Check the server certificate (turn off only for testing)."""
    sentinels: tuple[tuple[str, int], ...] = ()
    """Redis Sentinel addresses ("host:port"); with them the master is found by name."""
    sentinel_master: str = "mymaster"
    """Name of the master the sentinels watch."""
    advertise: tuple[str, ...] = ()
    """Addresses this gateway uses towards the origin server (for `origin-rules`)."""
    gateways: tuple[str, ...] = ()
    """Gateway addresses or networks always allowed by `origin-rules`, besides live nodes'."""
    origin_ports: tuple[str, ...] = ("80", "443")
    """TCP ports of the protected origin service that `origin-rules` locks down."""
    heartbeat: float = 2.0
    """Seconds between two heartbeats of this node."""
    timeout: float = 3.0
    """Seconds a connection attempt or a Redis command may take."""

    def prefix(self) -> str:
        """Common prefix of this fleet's Redis keys."""
        return f"floodwall:{self.fleet}:"

    def where(self) -> str:
        """The Redis address for messages, without any password."""
        if self.sentinels:
            hosts = ", ".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"sentinel master '{self.sentinel_master}' via {hosts}"
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
