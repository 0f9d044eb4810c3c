"""Parses each line once into an Entry (time plus access-log or syslog fields) for the jails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from floodwall.matching.accesslog import AccessLogFormat, AccessRecord, AutoAccessParser
from floodwall.matching.dates import SyslogRecord, parse_syslog
from floodwall.model import SourceLine

AccessParser = AccessLogFormat | AutoAccessParser


@dataclass(frozen=True, slots=True)
class Entry:
    """One line with what could be read from it; time is None when it has no readable date."""

    line: SourceLine
    time: float | None
    access: AccessRecord | None = None
    syslog: SyslogRecord | None = None


class EntryParser:
    """Parses the lines of one file for the jails reading it: access formats first, then syslog."""

    def __init__(self, access_parsers: Sequence[AccessParser], *, syslog: bool) -> None:
        self._access = tuple(access_parsers)
        self._syslog = syslog

    def parse(self, line: SourceLine, now: float) -> Entry:
        """The Entry for a line; never raises on malformed input."""
        text = line.text
        for parser in self._access:
            record = parser.parse(text)
            if record is not None:
                return Entry(line, record.time, access=record)
        if self._syslog:
            syslog = parse_syslog(text, now=now)
            if syslog is not None:
                return Entry(line, syslog.time, syslog=syslog)
        return Entry(line, None)
