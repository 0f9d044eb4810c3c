"""Parses each line once into an Entry (time plus access-log or syslog fields) for the jails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from floodwall.matching.accesslog import AccessLogFormat, AccessRecord, AutoAccessParser
from floodwall.matching.dates import SyslogRecord, parse_syslog, parse_syslog_time
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
    """Parses the lines of one file for the jails reading it, as an access log or as syslog;
    the kind that fitted the previous line is tried first (a file is mostly one kind)."""

    def __init__(self, access_parsers: Sequence[AccessParser], *, syslog: bool,
                 syslog_time: bool = False) -> None:
        self._access = tuple(access_parsers)
        self._syslog = syslog
        self._time_only = syslog_time and not syslog  # the stamp, not the other fields
        self._syslog_first = False

    def parse(self, line: SourceLine, now: float) -> Entry:
        """The Entry for a line; never raises on malformed input."""
        if line.time is not None:
            return Entry(line, line.time)  # a journal entry: dated, no syslog header
        if self._syslog_first:
            entry = self._as_syslog(line, now) or self._as_access(line)
        else:
            entry = self._as_access(line) or self._as_syslog(line, now)
        return entry or Entry(line, None)

    def _as_access(self, line: SourceLine) -> Entry | None:
        for parser in self._access:
            record = parser.parse(line.text)
            if record is not None:
                self._syslog_first = False
                return Entry(line, record.time, access=record)
        return None

    def _as_syslog(self, line: SourceLine, now: float) -> Entry | None:
        if self._time_only:
            stamp = parse_syslog_time(line.text, now=now)
            if stamp is None:
                return None
            self._syslog_first = True
            return Entry(line, stamp)
        if not self._syslog:
            return None
        record = parse_syslog(line.text, now=now)
        if record is None:
            return None
        self._syslog_first = True
        return Entry(line, record.time, syslog=record)
