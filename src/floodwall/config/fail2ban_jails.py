"""fail2ban's jails (jail.conf, jail.d/*.conf, jail.local, jail.d/*.local) as floodwall jails.

Read in fail2ban's order with [DEFAULT] inheritance and interpolation; what cannot be
honoured is kept as a note naming file and line, for `check-config` to show.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from floodwall.bans.recidive import RECIDIVE_JAIL
from floodwall.bans.selfprotect import local_addresses
from floodwall.config.fail2ban_actions import (
    NativeScope,
    ResolvedAction,
    command_action,
    native_scope,
    resolve_action,
)
from floodwall.config.fail2ban_filters import load_filter
from floodwall.config.fail2ban_ini import (
    DEFAULT,
    INCLUDES,
    KNOWN_PREFIX,
    ConfigSet,
    MissingOption,
    read_config,
)
from floodwall.config.fail2ban_values import (
    extract_options,
    positive_seconds,
    split_with_options,
    split_words,
    to_bool,
    to_seconds,
)
from floodwall.enforcement.python_actions import fail2ban_python
from floodwall.errors import ConfigError
from floodwall.settings.formula import compile_formula
from floodwall.settings.ports import port_ranges
from floodwall.settings.values import (
    CommandActionConfig,
    EscalationConfig,
    Fail2banFilterConfig,
    JailConfig,
    JournalConfig,
    Network,
    PythonActionConfig,
    RecidiveConfig,
)

JAIL_OPTIONS = ("enabled", "backend", "maxretry", "maxmatches", "findtime", "bantime",
                "bantime.increment", "bantime.factor", "bantime.formula",
                "bantime.multipliers", "bantime.maxtime", "bantime.rndtime",
                "bantime.overalljails", "ignorecommand", "ignoreself", "ignoreip",
                "ignorecache", "filter", "logtimezone", "logencoding", "logpath", "action",
                "usedns", "prefregex", "ignoreregex", "failregex", "maxlines", "datepattern",
                "journalmatch")
"""The options fail2ban reads from a jail section (JailReader._configOpts)."""
_T = TypeVar("_T")
_JAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_LOOPBACK = ("127.0.0.0/8", "::1")


@dataclass(frozen=True, slots=True)
class Note:
    """Something of a jail that floodwall cannot honour (or honours differently)."""

    jail: str
    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}" if self.path else self.message


@dataclass(frozen=True, slots=True)
class Fail2banJail:
    """One enabled fail2ban jail: what was understood, and the floodwall jail it became."""

    name: str
    config: JailConfig | None
    """The jail floodwall runs; None when it cannot run (see notes) or maps to recidive."""
    filter_path: str | None = None
    failregex: tuple[str, ...] = ()
    logpath: tuple[str, ...] = ()
    """Glob patterns, as written (without fail2ban's head/tail suffix)."""
    maxretry: int = 0
    findtime: float = 0.0
    bantime: float | None = None
    actions: tuple[tuple[str, str], ...] = ()
    """(action name, how floodwall runs it: "native: …", "command" or "not run: …")."""
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class Fail2banSetup:
    """The enabled jails of a fail2ban configuration directory."""

    directory: str
    jails: tuple[Fail2banJail, ...]
    recidive: RecidiveConfig | None = None
    """fail2ban's recidive jail, run as floodwall's recidive rule."""

    def configs(self) -> tuple[JailConfig, ...]:
        """The floodwall jails to run."""
        return tuple(jail.config for jail in self.jails if jail.config is not None)


class _Locator:
    """Finds the file and line where an option of a section was (last) written."""

    def __init__(self, files: list[str]) -> None:
        self._lines = {path: Path(path).read_text(encoding="utf-8", errors="replace")
                       .splitlines() for path in dict.fromkeys(files)}
        self._order = list(dict.fromkeys(files))

    def find(self, section: str, option: str | None) -> tuple[str | None, int | None]:
        for wanted in (section, DEFAULT) if option else (section,):
            found = self._last(wanted, option)
            if found is not None:
                return found
        return None, None

    def _last(self, section: str, option: str | None) -> tuple[str, int] | None:
        key = re.compile(rf"^\s*{re.escape(option)}\s*[=:]", re.IGNORECASE) if option else None
        for path in reversed(self._order):
            current = None
            hit = None
            for number, text in enumerate(self._lines[path], start=1):
                header = re.match(r"^\[([^\]]+)\]", text)
                if header:
                    current = header.group(1).strip()
                    if key is None and current == section:
                        hit = number
                    continue
                if key is not None and current == section and key.match(text):
                    hit = number
            if hit is not None:
                return path, hit
        return None


@dataclass(slots=True)
class _JailReader:
    """Reads one jail section; collects notes as it goes."""

    directory: str
    config: ConfigSet
    locator: _Locator
    name: str
    notes: list[Note] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)
    """The jail's filter's options as `known/<name>`, for the jail's own options to refer to
    (`failregex = %(known/failregex)s` and more lines, as in fail2ban)."""

    def note(self, message: str, option: str | None = None) -> None:
        path, line = self.locator.find(self.name, option)
        self.notes.append(Note(self.name, message, path, line))

    def error(self, message: str, option: str | None = None) -> ConfigError:
        path, line = self.locator.find(self.name, option)
        return ConfigError(f"jail [{self.name}]: {message}", path=path, line=line, key=option)

    def get(self, option: str) -> str | None:
        try:
            return self.config.get(self.name, option, {"__name__": self.name, **self.known})
        except MissingOption:
            return None

    def convert(self, option: str, text: str, convert: Callable[[str], _T]) -> _T:
        try:
            return convert(text)
        except ValueError as problem:
            raise self.error(str(problem), option) from None

    def options(self) -> dict[str, str]:
        """The jail's options as fail2ban hands them to its filter and actions."""
        found = {}
        for option in JAIL_OPTIONS:
            value = self.get(option)
            if value is not None:
                found[option] = value
        return found


def read_fail2ban(directory: str | Path) -> Fail2banSetup:
    """The enabled jails of a fail2ban configuration directory (e.g. /etc/fail2ban)."""
    directory = str(directory).rstrip("/") or "/"
    if not os.path.isdir(directory):
        raise ConfigError("not a directory; give fail2ban's configuration directory "
                          "(the one holding jail.conf)", path=directory)
    config = read_config(os.path.join(directory, "jail.conf"))
    locator = _Locator(config.files)
    jails: list[Fail2banJail] = []
    recidive: RecidiveConfig | None = None
    for section in config.sections:
        if section == INCLUDES or section.startswith(KNOWN_PREFIX):
            continue
        reader = _JailReader(directory, config, locator, section)
        enabled = reader.get("enabled") or "false"
        if not reader.convert("enabled", enabled, to_bool):
            continue
        jail = _read_jail(reader)
        if jail.config is not None and jail.name == RECIDIVE_JAIL:
            recidive = RecidiveConfig(True, jail.maxretry, jail.findtime, jail.bantime)
            jail = _as_recidive(jail, reader)
        jails.append(jail)
    return Fail2banSetup(directory, tuple(jails), recidive)


def _as_recidive(jail: Fail2banJail, reader: _JailReader) -> Fail2banJail:
    reader.note("recidive reads fail2ban's own log, which floodwall does not write: "
                "floodwall's recidive rule takes its place (an address banned maxretry "
                "times within findtime is banned on every port for bantime)", "filter")
    return Fail2banJail(jail.name, None, jail.filter_path, jail.failregex, jail.logpath,
                        jail.maxretry, jail.findtime, jail.bantime,
                        tuple((name, "native: floodwall's recidive rule, all ports")
                              for name, _ in jail.actions), tuple(reader.notes))


def _read_jail(reader: _JailReader) -> Fail2banJail:
    # One function: it follows fail2ban's own order of reading a jail (filter, its
    # options, then the jail's), each step needing the values before it.
    name = reader.name
    if not _JAIL_NAME.match(name) or name == "manual":
        reader.note("jail names must be letters, digits, '.', '_' or '-' (and not 'manual'); "
                    "rename the section to run it")
        return Fail2banJail(name, None, notes=tuple(reader.notes))
    # As fail2ban: backend and filter first, then the filter (with its arguments), whose
    # options the jail's own may then name as %(known/...)s, then the jail's options.
    backend, backend_options = reader.convert("backend", reader.get("backend") or "auto",
                                              extract_options)
    filter_text = (reader.get("filter") or "").strip()
    if not filter_text:
        reader.note("no filter: the jail finds nothing; set filter = NAME", "filter")
        return Fail2banJail(name, None, notes=tuple(reader.notes))
    filter_name, arguments = reader.convert("filter", filter_text, extract_options)
    filter_path = os.path.join(reader.directory, "filter.d", f"{filter_name}.conf")
    # fail2ban's applyAutoOptions: the backend decides logtype unless the filter's own
    # [Definition] (not an included [DEFAULT], like common.conf's) or its arguments do.
    if "logtype" not in read_config(filter_path).own_options("Definition"):
        arguments.setdefault("logtype", "journal" if backend.startswith("systemd") else "file")
    reader.known = {f"known/{option}": value for option, value
                    in load_filter(filter_path, arguments).options.items()
                    if not option.startswith("known/")}
    options = reader.options()
    definition = load_filter(filter_path, {**options, **arguments})
    maxretry = reader.convert("maxretry", options.get("maxretry", "3"), int)
    findtime = reader.convert("findtime", options.get("findtime", "600"), positive_seconds)
    bantime_seconds = reader.convert("bantime", options.get("bantime", "600"), to_seconds)
    bantime = None if bantime_seconds < 0 else bantime_seconds
    logpath = tuple(_logpath(line) for line in (options.get("logpath") or "").split("\n")
                    if line.strip())
    jail_actions, native, commands = _actions(reader, options, bantime)
    runs = True
    journal = None
    if backend.startswith("systemd"):
        journal = _journal(reader, definition.journalmatch, backend_options)
        logpath = ()
    elif not logpath:
        reader.note("no logpath: the jail reads nothing; set logpath", "logpath")
        runs = False
    for option, message in _unsupported(options):
        reader.note(message, option)
    ports = tuple(dict.fromkeys(port for scope in native for port in scope.ports))
    all_ports = not native or any(not scope.ports for scope in native)
    protocols = {scope.protocol for scope in native}
    protocol = protocols.pop() if len(protocols) == 1 else "all"
    config = JailConfig(
        name=name, logpath=logpath, filter="fail2ban",
        maxretry=maxretry, findtime=findtime, bantime=bantime,
        enabled=runs,
        ignoreip=_ignoreip(reader, options),
        ignorecommand=(options.get("ignorecommand") or "").strip() or None,
        ignorecache=_ignorecache(reader, options),
        ports=() if all_ports else ports,
        protocol=protocol,  # type: ignore[arg-type]
        escalation=_escalation(reader, options),
        fail2ban=Fail2banFilterConfig(definition, tuple(sorted({**options, **arguments}.items())),
                                      options.get("logtimezone") or None),
        journal=journal,
        commands=commands, firewall=bool(native), origin=reader.directory)
    try:
        port_ranges(config.ports, config.protocol)
    except ValueError as problem:
        raise reader.error(f"jail '{name}': {problem}", "port") from None
    return Fail2banJail(name, config, filter_path, definition.failregex, logpath,
                        maxretry, findtime, bantime, jail_actions,
                        tuple(reader.notes))


def _journal(reader: _JailReader, journalmatch: tuple[str, ...],
             arguments: Mapping[str, str]) -> JournalConfig:
    """The journal a `backend = systemd[...]` jail reads: its filter's journalmatch lines
    (alternatives, as fail2ban joins them), journalpath / journalfiles."""
    matches: list[str] = []
    for line in journalmatch:
        words = reader.convert("journalmatch", line, shlex.split)
        for word in words:
            if word != "+" and (word.startswith("-") or "=" not in word):
                raise reader.error(f"journalmatch {word!r} is not FIELD=value or '+'; fix the "
                                   f"filter's or the jail's journalmatch", "journalmatch")
        if words:
            matches += ["+", *words] if matches else words
    if shutil.which("journalctl") is None:
        reader.note("backend = systemd but journalctl is not installed (Debian package "
                    "systemd): the jail reads nothing", "backend")
    if not matches:
        reader.note("backend = systemd without journalmatch: every journal entry goes "
                    "through the filter (slow; fail2ban warns too)", "backend")
    for name in arguments:
        if name not in ("journalpath", "journalfiles", "journalflags", "namespace"):
            reader.note(f"backend option {name} is not honoured (journalpath, journalfiles, "
                        f"journalflags and namespace are)", "backend")
    directory = arguments.get("journalpath") or None
    files = tuple(arguments.get("journalfiles", "").replace(",", " ").split())
    for path in (directory, *files):
        if path is not None and not os.path.isabs(path):
            raise reader.error(f"journal path {path!r} must be absolute", "backend")
    flags_text = arguments.get("journalflags", "").strip()
    if flags_text:
        flags = reader.convert("backend", flags_text, _journal_flags)
    else:  # fail2ban's default: the system journal, unless a path or files are given
        flags = 0 if directory or files else SYSTEM_JOURNAL
    if flags & RUNTIME_ONLY:
        reader.note("journalflags RUNTIME_ONLY (2) is not honoured: persistent journal "
                    "files are read too", "backend")
    namespace = arguments.get("namespace", "").strip() or None
    if namespace is not None and not re.fullmatch(r"\*|\+?[A-Za-z0-9_.\-]+", namespace):
        raise reader.error(f"journal namespace {namespace!r} is not a plain name", "backend")
    return JournalConfig(tuple(matches), directory, files, system=bool(flags & SYSTEM_JOURNAL),
                         user=bool(flags & USER_JOURNAL), namespace=namespace)


LOCAL_ONLY, RUNTIME_ONLY, SYSTEM_JOURNAL, USER_JOURNAL = 1, 2, 4, 8
"""sd_journal_open() flags, as fail2ban's journalflags gives them."""


def _journal_flags(text: str) -> int:
    """journalflags: a sum of 1 (local only), 2 (runtime only), 4 (system), 8 (user)."""
    try:
        flags = int(text, 0)
    except ValueError:
        flags = -1
    if flags < 0 or flags & ~(LOCAL_ONLY | RUNTIME_ONLY | SYSTEM_JOURNAL | USER_JOURNAL):
        raise ValueError(f"journalflags {text!r}: expected a sum of 1 (local only), 2 (runtime "
                         "only), 4 (system) and 8 (current user)")
    return flags


def _logpath(line: str) -> str:
    path, _, tail = line.strip().rpartition(" ")
    return path.strip() if path and tail in ("head", "tail") else line.strip()


def _actions(reader: _JailReader, options: Mapping[str, str], bantime: float | None
             ) -> tuple[tuple[tuple[str, str], ...], list[NativeScope],
                        tuple[CommandActionConfig | PythonActionConfig, ...]]:
    described: list[tuple[str, str]] = []
    native: list[NativeScope] = []
    commands: list[CommandActionConfig | PythonActionConfig] = []
    for item in split_with_options(options.get("action", "")):
        stem, arguments = reader.convert("action", item, extract_options)
        if stem.endswith(".py"):
            python = _python_action(reader, stem, arguments, bantime)
            commands.append(python)
            described.append((python.name, "python action (run by fail2ban's Python)"))
            continue
        path = os.path.join(reader.directory, "action.d", f"{stem}.conf")
        action: ResolvedAction = resolve_action(path, arguments, reader.name, options)
        scope = native_scope(action)
        if scope is not None:
            native.append(scope)
            what = ", ".join(scope.ports) if scope.ports else "all ports"
            described.append((action.name, (f"native: floodwall's nftables sets, {what} "
                                           f"({scope.protocol})")))
            if action.options.get("blocktype", "").lower().startswith("reject"):
                reader.note(f"action {action.name}: floodwall drops banned packets where "
                            "fail2ban rejects them", "action")
            continue
        command = command_action(action)
        commands.append(command)
        described.append((action.name, "command"))
        if any(f"<{tag}>" in text for _, text in command.commands
               for tag in ("matches", "ipmatches", "ipjailmatches")):
            reader.note(f"action {action.name}: uses log lines (<matches>): the command is "
                        "refused whenever they hold shell metacharacters", "action")
    if not described:
        reader.note("no action: bans are recorded but nothing is blocked", "action")
    return tuple(described), native, tuple(commands)


def _ignorecache(reader: _JailReader, options: Mapping[str, str]) -> tuple[int, float] | None:
    """(max-count, max-time) of `ignorecache = key="<ip>", max-count=100, max-time=5m`."""
    text = (options.get("ignorecache") or "").strip()
    if not text:
        return None
    _, cache = reader.convert("ignorecache", f"cache[{text}]", extract_options)
    key = cache.get("key", "")
    if not key:
        raise reader.error('ignorecache needs a key, e.g. key="<ip>", max-count=100, '
                           'max-time=5m', "ignorecache")
    if re.sub(r"<(?:ip|fid)>", "", key).strip():
        reader.note(f"ignorecache key {key!r}: answers are kept per address (<ip>)",
                    "ignorecache")
    max_count = reader.convert("ignorecache", cache.get("max-count", "100"), int)
    max_time = reader.convert("ignorecache", cache.get("max-time", "300"), to_seconds)
    if max_count < 1 or max_time <= 0:
        raise reader.error("ignorecache max-count and max-time must be above zero",
                           "ignorecache")
    return max_count, max_time


def _python_action(reader: _JailReader, stem: str, arguments: dict[str, str],
                   bantime: float | None) -> PythonActionConfig:
    """`action = NAME.py[key=value, …]`: the action.d file and its class's arguments."""
    path = os.path.join(reader.directory, "action.d", stem)
    if not os.path.isfile(path):
        raise reader.error(f"action {stem}: {path} does not exist; fix the jail's action",
                           "action")
    options = dict(arguments)
    name = options.pop("actname", stem.removesuffix(".py"))
    timeout_text = options.pop("timeout", "60")
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise reader.error(f"action {stem}: timeout must be a number of seconds, not "
                           f"{timeout_text!r}", "action") from None
    if fail2ban_python() is None:
        reader.note(f"action {stem}: no Python with fail2ban's package was found (Debian "
                    "package fail2ban): it does not run", "action")
    return PythonActionConfig(name, path, tuple(sorted(options.items())), bantime, timeout)


def _unsupported(options: Mapping[str, str]) -> list[tuple[str, str]]:
    found = []
    if (options.get("usedns") or "").strip().lower() in ("yes", "raw"):
        found.append(("usedns", ("host names in log lines are not resolved: only lines with "
                                "an IP address are counted")))
    encoding = (options.get("logencoding") or "auto").strip().lower()
    if encoding not in ("auto", "utf-8", "utf8", "ascii"):
        found.append(("logencoding", (f"logencoding = {encoding}: logs are read as UTF-8 "
                                     "(undecodable bytes replaced)")))
    return found


def _ignoreip(reader: _JailReader, options: Mapping[str, str]) -> tuple[Network, ...]:
    networks: list[Network] = []
    ignoreself = reader.convert("ignoreself", options.get("ignoreself", "true"), to_bool)
    words = split_words(options.get("ignoreip"))
    if ignoreself:
        words = [*_LOOPBACK, *local_addresses(), *words]
    for word in words:
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            reader.note(f"ignoreip {word!r} is not an address or network (host names and "
                        "files are not resolved); it is not ignored", "ignoreip")
    return tuple(dict.fromkeys(networks))


def _escalation(reader: _JailReader, options: Mapping[str, str]) -> EscalationConfig:
    def get(option: str, convert: Callable[[str], _T], default: _T) -> _T:
        text = options.get(f"bantime.{option}")
        return default if text is None or not text.strip() else reader.convert(
            f"bantime.{option}", text, convert)

    def multipliers(text: str) -> tuple[float, ...]:
        return tuple(float(value) for value in text.split())

    return EscalationConfig(
        increment=get("increment", to_bool, False),
        factor=get("factor", float, 1.0),
        formula=get("formula", compile_formula, None),
        multipliers=get("multipliers", multipliers, ()),
        maxtime=get("maxtime", to_seconds, None),
        rndtime=get("rndtime", to_seconds, None),
        overalljails=get("overalljails", to_bool, False),
    )


def logpath_files(patterns: tuple[str, ...]) -> list[str]:
    """The files the patterns match now (fail2ban's view; floodwall also follows later ones)."""
    return sorted({path for pattern in patterns for path in glob.glob(pattern)
                   if os.path.exists(path)})
