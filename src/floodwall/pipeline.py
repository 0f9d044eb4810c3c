"""The shared path of a line: which jails read a file, parsing it once, and the jails' decisions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from floodwall.addresses import Allowlist
from floodwall.detection.jail import Jail
from floodwall.errors import ConfigError
from floodwall.matching.access_filter import AccessFilter
from floodwall.matching.accesslog import KNOWN_FORMATS, access_parser
from floodwall.matching.deadline import LineDeadline
from floodwall.matching.entries import Entry, EntryParser
from floodwall.matching.fail2ban_adapter import Fail2banLineFilter
from floodwall.matching.filters import LineFilter
from floodwall.matching.prefilter import Prefilter
from floodwall.matching.sshd import SshdFilter
from floodwall.model import Decision, SourceLine
from floodwall.settings.filters import inline_filter
from floodwall.settings.values import Config, JailConfig
from floodwall.sources.journal import journal_path


def build_filter(config: JailConfig, deadline: LineDeadline | None = None) -> LineFilter:
    """The filter a jail's configuration asks for; `deadline` bounds fail2ban filters' lines."""
    if config.filter == "access":
        known = config.format == "auto" or config.format in KNOWN_FORMATS
        return AccessFilter(config.name, config.rule, known_format=known, deadline=deadline)
    if config.filter == "sshd":
        return SshdFilter(config.name)
    if config.filter == "fail2ban" and config.fail2ban is not None:
        return Fail2banLineFilter(config.name, config.fail2ban, deadline=deadline)
    if config.filter == "regex":
        definition = inline_filter(f"jail '{config.name}'", config.failregex, config.ignoreregex)
        return Fail2banLineFilter(config.name, definition, deadline=deadline)
    raise ConfigError(f"jail '{config.name}': filter '{config.filter}' is not available yet")


def path_matches(path: str, pattern: str) -> bool:
    """True if a file path matches a logpath glob (`*` does not cross `/`)."""
    return PurePath(path).match(pattern) if pattern.startswith("/") else (
        PurePath(path).match(pattern) or path == pattern)


class Pipeline:
    """The enabled jails of a config, and for each file the jails that read it."""

    def __init__(self, config: Config, *, every_jail_reads_every_file: bool = False) -> None:
        self.config = config
        self.deadline = LineDeadline(config.line_timeout)
        """Bounds the time one line may take in the filters, while armed (the daemon arms it
        around each batch)."""
        self.jails: dict[str, Jail] = {
            j.name: Jail(j, build_filter(j, self.deadline), Allowlist(j.ignoreip),
                         config.max_keys)
            for j in config.enabled_jails()}
        self._all_files = every_jail_reads_every_file
        self._routes: dict[str, tuple[list[Jail], EntryParser, Prefilter]] = {}

    def jails_for(self, path: str) -> list[Jail]:
        """The jails that read a file."""
        return self._route(path)[0]

    def candidate(self, line: SourceLine) -> bool:
        """False if no jail of the line's file can find a failure in it (skip parsing)."""
        return self._route(line.path)[2].text(line.text)

    def prefilter(self, path: str) -> Prefilter:
        """The prefilter of a file's jails."""
        return self._route(path)[2]

    def parse(self, line: SourceLine, now: float) -> Entry:
        """Parse a line once for every jail of its file."""
        return self._route(line.path)[1].parse(line, now)

    def feed(self, entry: Entry, now: float | None = None) -> list[Decision]:
        """Give a parsed line to its file's jails; returns their decisions (`now`: the
        clock, past which no failure counts; None in a replay, which runs on the logs'
        own clock)."""
        decisions: list[Decision] = []
        for jail in self._route(entry.line.path)[0]:
            requires = jail.filter.requires
            if (requires == "access" and entry.access is None) or (
                    requires == "syslog" and entry.syslog is None):
                continue  # this jail reads fields this line does not have
            decisions.extend(jail.on_entry(entry, now))
        return decisions

    def feed_lines(self, lines: Iterable[SourceLine], now: float) -> list[Decision]:
        """Parse and feed lines (already in the order to count them)."""
        decisions: list[Decision] = []
        for line in lines:
            if self.candidate(line):
                decisions.extend(self.feed(self.parse(line, now)))
        return decisions

    def forget(self, key: str, jail: str | None = None) -> None:
        """A key was banned: its count starts over in that jail (None: in every jail)."""
        for running in self.jails.values():
            if jail is None or running.name == jail:
                running.on_ban(key)

    def expire(self, now: float) -> None:
        """Release every jail's emptied windows."""
        for jail in self.jails.values():
            jail.expire(now)

    def _route(self, path: str) -> tuple[list[Jail], EntryParser, Prefilter]:
        route = self._routes.get(path)
        if route is None:
            jails = [jail for jail in self.jails.values() if self._all_files or any(
                path_matches(path, pattern) for pattern in jail.config.logpath)
                or (jail.config.journal is not None and path == journal_path(jail.name))]
            formats: dict[tuple[str, str], object] = {}
            for jail in jails:
                if jail.filter.wants_access:
                    spec = (jail.config.format, jail.config.format_kind)
                    formats.setdefault(spec, access_parser(*spec))
            parser = EntryParser(list(formats.values()),  # type: ignore[arg-type]
                                 syslog=any(j.filter.wants_syslog for j in jails),
                                 syslog_time=any(j.filter.wants_time for j in jails))
            prefilter = Prefilter([jail.filter.necessary for jail in jails])
            route = self._routes[path] = (jails, parser, prefilter)
        return route
