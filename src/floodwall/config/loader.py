"""Reads floodwall.toml into a validated Config; every error names file, line, key and the fix."""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from floodwall.config.cluster import parse_cluster
from floodwall.config.converters import boolean, non_empty_text
from floodwall.config.fail2ban_jails import Fail2banSetup, read_fail2ban
from floodwall.config.locate import find_line
from floodwall.errors import ConfigError
from floodwall.matching.fail2ban.regex import TaggedRegex
from floodwall.rates import parse_rate
from floodwall.settings.durations import parse_bantime, parse_duration
from floodwall.settings.formula import BanFormula, compile_formula
from floodwall.settings.values import (
    AccessRule,
    AggregateConfig,
    ClusterConfig,
    Config,
    EscalationConfig,
    HttpConfig,
    JailConfig,
    LoggingConfig,
    Network,
    RecidiveConfig,
    ReconConfig,
)

_JAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")

_DAEMON_KEYS = {"state_dir", "socket", "backend", "table", "new_files_from", "max_line_bytes",
                "line_timeout", "max_keys", "history", "protect_ssh_sessions"}
_POLICY_KEYS = {"maxretry", "findtime", "bantime", "ignoreip", "ports", "protocol", "action",
                "rate", "burst",
                "format", "format_kind", "escalation", "ipv6_key_prefix", "scope"}
_ESCALATION_KEYS = {"increment", "factor", "formula", "multipliers", "maxtime", "rndtime",
                    "overalljails"}
_RECIDIVE_KEYS = {"enabled", "maxretry", "findtime", "bantime"}
_AGGREGATE_KEYS = {"enabled", "count", "within", "ipv4_prefix", "ipv6_prefix"}
_JAIL_KEYS = _POLICY_KEYS | {"enabled", "logpath", "filter", "methods", "status", "path",
                             "path_not", "vhost", "failregex", "ignoreregex"}
_TOP_TABLES = {"floodwall", "defaults", "jails", "recidive", "aggregate", "recon", "http",
               "logging", "cluster", "fail2ban"}
_RECON_KEYS = {f.name for f in fields(ReconConfig)}
_HTTP_KEYS = {f.name for f in fields(HttpConfig)}
_LOGGING_KEYS = {f.name for f in fields(LoggingConfig)}

_DEFAULT_POLICY: dict[str, Any] = {
    "maxretry": 5, "findtime": "10m", "bantime": "1h", "ignoreip": ["127.0.0.0/8", "::1"],
    "ports": [], "protocol": "tcp", "action": "drop", "rate": None, "burst": None,
    "format": "auto", "format_kind": "apache",
    "escalation": {}, "ipv6_key_prefix": 128, "scope": "local",
}


class _Reader:
    """Carries the file's text so each error can point at its line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, message: str, table: str, key: str | None = None) -> ConfigError:
        return ConfigError(message, path=self.path, line=find_line(self.text, table, key),
                           key=f"{table}.{key}" if key and table else key or table or None)

    def check_keys(self, table: str, values: Mapping[str, Any], allowed: set[str],
                   inline: str | None = None) -> None:
        """Refuse unknown keys; `inline` names the key holding an inline table."""
        for key in values:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else (
                    f"; expected one of: {', '.join(sorted(allowed))}")
                if inline is None:
                    raise self.error(f"unknown key{hint}", table, key)
                raise self.error(f"unknown key '{key}'{hint}", table, inline)

    def convert(self, table: str, key: str, value: Any, convert: Callable[[Any], Any]) -> Any:
        try:
            return convert(value)
        except (ValueError, TypeError, re.error) as problem:
            raise self.error(str(problem), table, key) from None


def load_config(path: str | Path, fail2ban_dir: str | None = None) -> Config:
    """Read and validate a floodwall.toml; raises ConfigError naming file, line and key.

    `fail2ban_dir` (--fail2ban-config) overrides [fail2ban] config_dir; with it, a missing
    floodwall.toml means floodwall's defaults and the fail2ban jails alone.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        if fail2ban_dir is None:
            raise ConfigError("cannot read the configuration: no such file; pass an existing "
                              "file with --config (or --fail2ban-config DIR)", path=path) from None
        text = ""
    except OSError as problem:
        raise ConfigError(f"cannot read the configuration: {problem.strerror}; "
                          "pass an existing file with --config", path=path) from None
    except UnicodeDecodeError as problem:
        raise ConfigError(f"not UTF-8 text ({problem.reason} at byte {problem.start})",
                          path=path) from None
    return parse_config(text, path, fail2ban_dir)


def parse_config(text: str, path: str = "<string>", fail2ban_dir: str | None = None) -> Config:
    """Validate TOML text as a floodwall configuration (plus a fail2ban directory's jails)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        line = re.search(r"line (\d+)", str(problem))
        raise ConfigError(f"not valid TOML: {problem}", path=path,
                          line=int(line.group(1)) if line else None) from None
    reader = _Reader(path, text)
    reader.check_keys("", data, _TOP_TABLES)
    daemon = _table(reader, data, "floodwall")
    reader.check_keys("floodwall", daemon, _DAEMON_KEYS)
    defaults = _table(reader, data, "defaults")
    reader.check_keys("defaults", defaults, _POLICY_KEYS)
    jails_table = _table(reader, data, "jails")
    jails = tuple(_jail(reader, name, body, defaults) for name, body in jails_table.items())
    fail2ban = _fail2ban(reader, _table(reader, data, "fail2ban"), fail2ban_dir, jails)
    if fail2ban is not None:
        jails += fail2ban.configs()
    if not jails:
        raise reader.error("no jails: add at least one [jails.NAME] table (see examples/) "
                           "or a [fail2ban] config_dir with enabled jails", "jails")
    cluster = _cluster(reader, data, jails)
    return Config(
        path=path,
        state_dir=reader.convert("floodwall", "state_dir", daemon.get("state_dir",
                                 "/var/lib/floodwall"), non_empty_text),
        socket=reader.convert("floodwall", "socket",
                              daemon.get("socket", "/run/floodwall/control.sock"), non_empty_text),
        backend=reader.convert("floodwall", "backend", daemon.get("backend", "nftables"),
                               _choice("nftables", "dry-run")),
        table=reader.convert("floodwall", "table", daemon.get("table", "floodwall"),
                             _identifier),
        new_files_from=reader.convert("floodwall", "new_files_from",
                                      daemon.get("new_files_from", "end"),
                                      _choice("end", "start")),
        max_line_bytes=reader.convert("floodwall", "max_line_bytes",
                                      daemon.get("max_line_bytes", 65536), _positive_int),
        line_timeout=reader.convert("floodwall", "line_timeout",
                                    daemon.get("line_timeout", 0.25), _line_timeout),
        max_keys=reader.convert("floodwall", "max_keys", daemon.get("max_keys", 1_000_000),
                                _key_limit),
        history=reader.convert("floodwall", "history", daemon.get("history", "30d"),
                               _positive_duration),
        protect_ssh_sessions=reader.convert("floodwall", "protect_ssh_sessions",
                                            daemon.get("protect_ssh_sessions", True), boolean),
        recidive=(fail2ban.recidive if fail2ban and fail2ban.recidive and "recidive" not in data
                  else _recidive(reader, _table(reader, data, "recidive"))),
        aggregate=_aggregate(reader, _table(reader, data, "aggregate")),
        recon=_recon(reader, _table(reader, data, "recon")),
        http=_http(reader, _table(reader, data, "http"), daemon.get("state_dir")),
        logging=_logging(reader, _table(reader, data, "logging")),
        ignoreip=reader.convert("defaults", "ignoreip",
                                defaults.get("ignoreip", _DEFAULT_POLICY["ignoreip"]), _networks),
        jails=jails,
        cluster=cluster,
        fail2ban_dir=fail2ban.directory if fail2ban else None,
    )


def _table(reader: _Reader, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise reader.error(f"expected a table [{name}], got {type(value).__name__}", "", name)
    return value


def _jail(reader: _Reader, name: str, body: Any, defaults: Mapping[str, Any]) -> JailConfig:
    # One function: it is the list of a jail table's keys, read in one pass with their
    # converters (the small functions below); split, the list would be read in two places.
    table = f"jails.{name}"
    if not isinstance(body, dict):
        raise reader.error("expected a table [jails.NAME]", "jails", name)
    if not _JAIL_NAME.match(name):
        raise reader.error("jail names are letters, digits, '.', '_' and '-' (at most 63)",
                           table)
    if name == "manual":
        raise reader.error("'manual' is reserved for bans made by hand; rename the jail", table)
    reader.check_keys(table, body, _JAIL_KEYS)

    def get(key: str, convert: Callable[[Any], Any]) -> Any:
        if key in body:
            return reader.convert(table, key, body[key], convert)
        if key in defaults:
            return reader.convert("defaults", key, defaults[key], convert)
        return convert(_DEFAULT_POLICY[key])

    if "logpath" not in body:
        raise reader.error("missing 'logpath': the log files to read, e.g. "
                           "logpath = [\"/var/www/*/logs/access.log\"]", table)
    kind = reader.convert(table, "filter", body.get("filter", "access"),
                          _choice("access", "sshd", "regex"))
    failregex = reader.convert(table, "failregex", body.get("failregex", []), _tagged_regexes)
    ignoreregex = reader.convert(table, "ignoreregex", body.get("ignoreregex", []),
                                 _tagged_regexes)
    if kind == "regex" and not failregex:
        raise reader.error("filter = \"regex\" needs a failregex list with <HOST>", table,
                           "filter")
    if kind != "regex" and (failregex or ignoreregex):
        raise reader.error("failregex and ignoreregex belong to filter = \"regex\" jails; set "
                           "filter = \"regex\" or remove them", table,
                           "failregex" if failregex else "ignoreregex")
    for pattern in failregex:
        if "<HOST>" not in pattern and "<ADDR>" not in pattern:
            raise reader.error(f"failregex {pattern!r} has no <HOST>: the address to ban "
                               "must come from a <HOST> group", table, "failregex")
    # The jail's ignoreip adds to the defaults' (a jail cannot un-protect an address).
    ignoreip = tuple(dict.fromkeys(
        reader.convert("defaults", "ignoreip",
                       defaults.get("ignoreip", _DEFAULT_POLICY["ignoreip"]), _networks)
        + reader.convert(table, "ignoreip", body.get("ignoreip", []), _networks)))
    rule = AccessRule(
        methods=reader.convert(table, "methods", body.get("methods"), _upper_set),
        statuses=reader.convert(table, "status", body.get("status"), _status_set),
        path=reader.convert(table, "path", body.get("path"), _regex),
        path_not=reader.convert(table, "path_not", body.get("path_not"), _regex),
        vhost=reader.convert(table, "vhost", body.get("vhost"), _regex),
    )
    action, rate, burst = _action(reader, table, body, get)
    return JailConfig(
        name=name,
        enabled=reader.convert(table, "enabled", body.get("enabled", True), boolean),
        logpath=reader.convert(table, "logpath", body["logpath"], _text_list),
        filter=kind,
        maxretry=get("maxretry", _positive_int),
        findtime=get("findtime", _positive_duration),
        bantime=get("bantime", parse_bantime),
        format=get("format", non_empty_text),
        format_kind=get("format_kind", _choice("apache", "nginx")),
        rule=rule,
        failregex=failregex,
        ignoreregex=ignoreregex,
        ignoreip=ignoreip,
        ports=get("ports", _ports),
        protocol=get("protocol", _choice("tcp", "udp", "all")),
        action=action,
        rate=rate,
        burst=burst,
        escalation=_escalation(reader, table if "escalation" in body else "defaults",
                               body.get("escalation", defaults.get("escalation", {}))),
        ipv6_key_prefix=get("ipv6_key_prefix", _prefix(16, 128)),
        scope=get("scope", _choice("local", "fleet")),
    )


def _fail2ban(reader: _Reader, body: dict[str, Any], override: str | None,
              native: tuple[JailConfig, ...]) -> Fail2banSetup | None:
    """The enabled jails of the fail2ban directory given (--fail2ban-config wins)."""
    reader.check_keys("fail2ban", body, {"config_dir"})
    directory = override if override is not None else (
        reader.convert("fail2ban", "config_dir", body["config_dir"], non_empty_text)
        if "config_dir" in body else None)
    if directory is None:
        return None
    if override is None and not Path(directory).is_dir():
        raise reader.error(f"{directory!r} is not a directory: give fail2ban's configuration "
                           "directory, the one holding jail.conf (e.g. \"/etc/fail2ban\")",
                           "fail2ban", "config_dir")
    setup = read_fail2ban(directory)
    names = {jail.name for jail in native}
    for jail in setup.configs():
        if jail.name in names:
            raise reader.error(f"jail '{jail.name}' is defined here and by the fail2ban "
                               f"configuration in {directory}; rename one of them",
                               f"jails.{jail.name}")
    return setup


def _action(reader: _Reader, table: str, body: Mapping[str, Any],
            get: Callable[[str, Callable[[Any], Any]], Any]
            ) -> tuple[Literal["drop", "throttle"], str | None, int | None]:
    """The jail's action with the rate and burst of a throttle, checked together."""
    action: Literal["drop", "throttle"] = get("action", _choice("drop", "throttle"))
    rate = get("rate", _optional(lambda value: parse_rate(value).text()))
    burst = get("burst", _optional(_positive_int))
    if action == "drop":
        for key in ("rate", "burst"):
            if key in body:
                raise reader.error(f"'{key}' applies only to action = \"throttle\"; remove it "
                                   "or set action = \"throttle\"", table, key)
        return action, None, None
    if rate is None:
        raise reader.error("action = \"throttle\" needs a rate per source, e.g. "
                           "rate = \"10/second\" or rate = \"100 kbytes/second\"", table,
                           "action")
    reader.convert(table if "burst" in body else "defaults", "burst", burst,
                   lambda value: parse_rate(rate, value))
    return action, rate, burst


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _cluster(reader: _Reader, data: Mapping[str, Any], jails: tuple[JailConfig, ...]
             ) -> ClusterConfig | None:
    if "cluster" not in data:
        fleet = [j.name for j in jails if j.scope == "fleet"]
        if fleet:
            raise reader.error("scope = \"fleet\" counts in the fleet's Redis: add a [cluster] "
                               "table with its url, or use scope = \"local\"",
                               f"jails.{fleet[0]}", "scope")
        return None
    return parse_cluster(_table(reader, data, "cluster"),
                         lambda message, key: reader.error(message, "cluster", key))


def _escalation(reader: _Reader, table: str, body: Any) -> EscalationConfig:
    if not isinstance(body, dict):
        raise reader.error("expected a table of bantime.increment options, e.g. "
                           "escalation = { increment = true, maxtime = \"1w\" }", table,
                           "escalation")
    reader.check_keys(table, body, _ESCALATION_KEYS, inline="escalation")

    def get(key: str, convert: Callable[[Any], Any], default: Any = None) -> Any:
        if key not in body:
            return default
        # Inline tables have no line of their own: point at the 'escalation' key.
        try:
            return convert(body[key])
        except (ValueError, TypeError) as problem:
            raise reader.error(f"{key}: {problem}", table, "escalation") from None

    return EscalationConfig(
        increment=get("increment", boolean, False),
        factor=get("factor", _positive_number, 1.0),
        formula=get("formula", _formula),
        multipliers=get("multipliers", _number_list, ()),
        maxtime=get("maxtime", _positive_duration),
        rndtime=get("rndtime", parse_duration),
        overalljails=get("overalljails", boolean, False),
    )


def _recidive(reader: _Reader, body: dict[str, Any]) -> RecidiveConfig:
    reader.check_keys("recidive", body, _RECIDIVE_KEYS)
    convert = reader.convert
    return RecidiveConfig(
        enabled=convert("recidive", "enabled", body.get("enabled", bool(body)), boolean),
        maxretry=convert("recidive", "maxretry", body.get("maxretry", 5), _positive_int),
        findtime=convert("recidive", "findtime", body.get("findtime", "1d"), _positive_duration),
        bantime=convert("recidive", "bantime", body.get("bantime", "1w"), parse_bantime),
    )


def _aggregate(reader: _Reader, body: dict[str, Any]) -> AggregateConfig:
    reader.check_keys("aggregate", body, _AGGREGATE_KEYS)
    convert = reader.convert
    return AggregateConfig(
        enabled=convert("aggregate", "enabled", body.get("enabled", bool(body)), boolean),
        count=convert("aggregate", "count", body.get("count", 5), _positive_int),
        within=convert("aggregate", "within", body.get("within", "1h"), _positive_duration),
        ipv4_prefix=convert("aggregate", "ipv4_prefix", body.get("ipv4_prefix", 24),
                            _prefix(8, 31)),
        ipv6_prefix=convert("aggregate", "ipv6_prefix", body.get("ipv6_prefix", 64),
                            _prefix(16, 127)),
    )


def _prefix(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a prefix length from {low} to {high}, got {value!r}")
        return value
    return convert


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"expected a number above zero, got {value!r}")
    return float(value)


def _number_list(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):  # fail2ban writes "1 2 4 8"
        value = value.split()
    try:
        numbers = tuple(_positive_number(float(v) if isinstance(v, str) else v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a list of numbers above zero, got {value!r}") from None
    if not numbers:
        raise ValueError("expected at least one multiplier")
    return numbers


def _formula(value: Any) -> BanFormula:
    return compile_formula(non_empty_text(value))



def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,30}$", value):
        raise ValueError(f"expected a name of letters, digits and '_' (nft table), got {value!r}")
    return value


def _key_limit(value: object) -> int | None:
    """A positive number of keys, or 0 for no limit (None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of keys (0 = no limit), got {value!r}")
    return value or None


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {value!r}")
    return value


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("expected a duration above zero, such as \"10m\"")
    return seconds


def _line_timeout(value: Any) -> float | None:
    """Seconds a line may take in the filters (0 = no bound, None); at least 10 ms."""
    seconds = parse_duration(value)
    if seconds == 0:
        return None
    if seconds < 0.01:
        raise ValueError(f"expected at least 0.01 seconds (0 = no bound), got {value!r}")
    return seconds


def _choice(*allowed: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(repr(a) for a in allowed)}, "
                             f"got {value!r}")
        return str(value)
    return convert


def _text_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _upper_set(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(v.upper() for v in _text_list(value))


def _status_set(value: Any) -> frozenset[int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value):
        raise ValueError(f"expected a list of HTTP statuses (100-599), got {value!r}")
    return frozenset(value)


def _tagged_regexes(value: Any) -> tuple[str, ...]:
    """Regexes with fail2ban's tags (<HOST>, <F-USER>…), each checked to compile."""
    patterns = _text_list(value) if value else ()
    for pattern in patterns:
        try:
            TaggedRegex.compile(pattern)
        except ConfigError as problem:
            raise ValueError(str(problem)) from None
    return patterns


def _regex(value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(non_empty_text(value))
    except re.error as problem:
        raise ValueError(f"invalid regular expression {value!r}: {problem}") from None


def _networks(value: Any) -> tuple[Network, ...]:
    networks = []
    for item in _text_list(value) if value else ():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or CIDR network "
                             "(e.g. \"192.0.2.7\", \"10.0.0.0/8\", \"2001:db8::/32\")") from None
    return tuple(networks)


def _ports(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    ports = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not re.match(r"^(\d{1,5}(-\d{1,5})?|[a-z][a-z0-9\-]*)$", text):
            raise ValueError(f"expected ports like 80, \"443\", \"8000-8080\" or \"ssh\", "
                             f"got {item!r}")
        ports.append(text)
    return tuple(ports)


def _recon(reader: _Reader, body: dict[str, Any]) -> ReconConfig:
    reader.check_keys("recon", body, _RECON_KEYS)
    base = ReconConfig()

    def get(key: str, convert: Callable[[Any], Any]) -> Any:
        return reader.convert("recon", key, body[key], convert) if key in body else getattr(
            base, key)

    return ReconConfig(
        # Lookups leave the host (DNS, RDAP): on only when a [recon] table asks for them.
        enabled=reader.convert("recon", "enabled", body.get("enabled", bool(body)), boolean),
        resolver=get("resolver", _host_port_or_empty),
        rdap_url=get("rdap_url", _url_or_empty), mmdb=get("mmdb", _text_list),
        timeout=get("timeout", _positive_duration), cache_ttl=get("cache_ttl", _positive_duration),
        failure_ttl=get("failure_ttl", _positive_duration),
        rdap_interval=get("rdap_interval", parse_duration),
        backdoor_check=get("backdoor_check", boolean),
        backdoor_ports=get("backdoor_ports", _port_numbers),
        backdoor_interval=get("backdoor_interval", parse_duration))


def _http(reader: _Reader, body: dict[str, Any], state_dir: Any) -> HttpConfig:
    reader.check_keys("http", body, _HTTP_KEYS)
    listen = reader.convert("http", "listen", body.get("listen", HttpConfig().listen),
                            _host_port)
    default_token = f"{str(state_dir or '/var/lib/floodwall').rstrip('/')}/http.token"
    return HttpConfig(
        enabled=reader.convert("http", "enabled", body.get("enabled", False), boolean),
        listen=listen,
        token_file=reader.convert("http", "token_file", body.get("token_file", default_token),
                                  non_empty_text))


def _logging(reader: _Reader, body: dict[str, Any]) -> LoggingConfig:
    reader.check_keys("logging", body, _LOGGING_KEYS)
    return LoggingConfig(json=reader.convert("logging", "json", body.get("json", False), boolean))


def _host_port(value: Any) -> str:
    text = non_empty_text(value)
    match = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$", text)
    if not match or not 0 <= int(match.group(2)) < 65536:
        raise ValueError(f"expected \"ADDRESS:PORT\" such as \"127.0.0.1:9180\" or "
                         f"\"[::1]:9180\", got {value!r}")
    return text


def _host_port_or_empty(value: Any) -> str:
    if value == "":
        return ""
    text = non_empty_text(value)
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        return _host_port(text)


def _url_or_empty(value: Any) -> str:
    if value == "":
        return ""
    text = non_empty_text(value)
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(f"expected an http(s) URL such as \"https://rdap.org\" or \"\" "
                         f"to turn RDAP off, got {value!r}")
    return text.rstrip("/")


def _port_numbers(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536 for v in value):
        raise ValueError(f"expected a list of port numbers (1-65535), got {value!r}")
    return tuple(value)
