"""Reads floodwall.toml into a validated Config; every error names file, line, key and the fix."""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from floodwall.config.durations import parse_bantime, parse_duration
from floodwall.config.locate import find_line
from floodwall.config.model import AccessRule, Config, JailConfig, Network
from floodwall.errors import ConfigError

_JAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")

_DAEMON_KEYS = {"state_dir", "socket", "backend", "table", "new_files_from", "max_line_bytes"}
_POLICY_KEYS = {"maxretry", "findtime", "bantime", "ignoreip", "ports", "protocol", "action",
                "format", "format_kind"}
_JAIL_KEYS = _POLICY_KEYS | {"enabled", "logpath", "filter", "methods", "status", "path",
                             "path_not", "vhost", "failregex", "ignoreregex"}
_TOP_TABLES = {"floodwall", "defaults", "jails"}

_DEFAULT_POLICY: dict[str, Any] = {
    "maxretry": 5, "findtime": "10m", "bantime": "1h", "ignoreip": ["127.0.0.0/8", "::1"],
    "ports": [], "protocol": "tcp", "action": "drop", "format": "auto", "format_kind": "apache",
}


class _Reader:
    """Carries the file's text so each error can point at its line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, message: str, table: str, key: str | None = None) -> ConfigError:
        return ConfigError(message, path=self.path, line=find_line(self.text, table, key),
                           key=f"{table}.{key}" if key and table else key or table or None)

    def check_keys(self, table: str, values: Mapping[str, Any], allowed: set[str]) -> None:
        for key in values:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else (
                    f"; expected one of: {', '.join(sorted(allowed))}")
                raise self.error(f"unknown key{hint}", table, key)

    def convert(self, table: str, key: str, value: Any, convert: Callable[[Any], Any]) -> Any:
        try:
            return convert(value)
        except (ValueError, TypeError, re.error) as problem:
            raise self.error(str(problem), table, key) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a floodwall.toml; raises ConfigError naming file, line and key."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as problem:
        raise ConfigError(f"cannot read the configuration: {problem.strerror}; "
                          "pass an existing file with --config", path=path) from None
    except UnicodeDecodeError as problem:
        raise ConfigError(f"not UTF-8 text ({problem.reason} at byte {problem.start})",
                          path=path) from None
    return parse_config(text, path)


def parse_config(text: str, path: str = "<string>") -> Config:
    """Validate TOML text as a floodwall configuration."""
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
    if not jails:
        raise reader.error("no jails: add at least one [jails.NAME] table (see examples/)",
                           "jails")
    return Config(
        path=path,
        state_dir=reader.convert("floodwall", "state_dir", daemon.get("state_dir",
                                 "/var/lib/floodwall"), _text),
        socket=reader.convert("floodwall", "socket",
                              daemon.get("socket", "/run/floodwall/control.sock"), _text),
        backend=reader.convert("floodwall", "backend", daemon.get("backend", "nftables"),
                               _choice("nftables", "dry-run")),
        table=reader.convert("floodwall", "table", daemon.get("table", "floodwall"),
                             _identifier),
        new_files_from=reader.convert("floodwall", "new_files_from",
                                      daemon.get("new_files_from", "end"),
                                      _choice("end", "start")),
        max_line_bytes=reader.convert("floodwall", "max_line_bytes",
                                      daemon.get("max_line_bytes", 65536), _positive_int),
        ignoreip=reader.convert("defaults", "ignoreip",
                                defaults.get("ignoreip", _DEFAULT_POLICY["ignoreip"]), _networks),
        jails=jails,
    )


def _table(reader: _Reader, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise reader.error(f"expected a table [{name}], got {type(value).__name__}", "", name)
    return value


def _jail(reader: _Reader, name: str, body: Any, defaults: Mapping[str, Any]) -> JailConfig:
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
    failregex = reader.convert(table, "failregex", body.get("failregex", []), _text_list)
    if kind == "regex" and not failregex:
        raise reader.error("filter = \"regex\" needs a failregex list with <HOST>", table,
                           "filter")
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
    return JailConfig(
        name=name,
        enabled=reader.convert(table, "enabled", body.get("enabled", True), _bool),
        logpath=reader.convert(table, "logpath", body["logpath"], _text_list),
        filter=kind,
        maxretry=get("maxretry", _positive_int),
        findtime=get("findtime", _positive_duration),
        bantime=get("bantime", parse_bantime),
        format=get("format", _text),
        format_kind=get("format_kind", _choice("apache", "nginx")),
        rule=rule,
        failregex=failregex,
        ignoreregex=reader.convert(table, "ignoreregex", body.get("ignoreregex", []),
                                   _text_list),
        ignoreip=ignoreip,
        ports=get("ports", _ports),
        protocol=get("protocol", _choice("tcp", "udp", "all")),
        action=get("action", _choice("drop")),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,30}$", value):
        raise ValueError(f"expected a name of letters, digits and '_' (nft table), got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {value!r}")
    return value


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("expected a duration above zero, such as \"10m\"")
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


def _regex(value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(_text(value))
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
