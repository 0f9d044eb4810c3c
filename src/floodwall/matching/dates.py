"""Timestamps of web and syslog lines turned into unix seconds, cheaply enough for a flood.

Log lines arrive in time order, so thousands of lines share one hour: the calendar
arithmetic is done once per distinct hour (or minute, for local time) and cached; each
line then costs a few string slices and dictionary look-ups.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_MINUTES = {f"{n:02d}": n for n in range(60)}
_SECONDS = {f"{n:02d}": n for n in range(61)}  # 60: a leap second, as syslog may write it
_FUTURE_SLACK = 86400.0
"""How far ahead of `now` a year-less syslog stamp may be (clock skew between hosts)."""

_CLF_HOUR = re.compile(
    r"([0-9]{2})/([A-Z][a-z]{2})/([0-9]{4}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_SYSLOG_TAIL = r" (\S+) (?:([^\s\[\]:]+)(?:\[([0-9]{1,10})\])?:(?: |$))?(.*)"
_SYSLOG_CLASSIC = re.compile(
    r"([A-Z][a-z]{2}) +([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?"
    + _SYSLOG_TAIL, re.DOTALL)
_SYSLOG_ISO = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T\S+)" + _SYSLOG_TAIL, re.DOTALL)


@dataclass(frozen=True, slots=True)
class SyslogRecord:
    """One syslog line split into its header fields and message."""

    time: float
    """Unix time of the stamp (a classic stamp is local time, its year inferred)."""
    host: str
    """Host name as written by the logger."""
    program: str
    """Tag before the colon (`sshd`, `postfix/smtpd`); "" when the line has none."""
    pid: int | None
    """Process id in brackets after the program, when written."""
    message: str
    """Everything after `program[pid]: `, or after the host when there is no tag."""


def parse_clf_time(text: str) -> float | None:
    """Unix seconds of an Apache/nginx stamp like `10/Oct/2000:13:55:36 -0700`; None if
    malformed."""
    if len(text) != 26 or text[14] != ":" or text[17] != ":":
        return None
    minute = _MINUTES.get(text[15:17])
    second = _SECONDS.get(text[18:20])
    if minute is None or second is None:
        return None
    hour = _clf_hour(text[:14] + text[20:])
    if hour is None:
        return None
    return hour + minute * 60 + second


@lru_cache(maxsize=1024)
def _clf_hour(key: str) -> float | None:
    """Unix seconds of the start of the hour `dd/Mon/yyyy:HH ±hhmm`; None if not a real time."""
    match = _CLF_HOUR.fullmatch(key)
    if match is None:
        return None
    day, month_name, year, hour, sign, off_hours, off_minutes = match.groups()
    month = _MONTHS.get(month_name)
    if month is None or int(off_minutes) >= 60:
        return None
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
    try:
        stamp = datetime(int(year), month, int(day), int(hour),
                         tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError:
        return None
    return stamp.timestamp()


def parse_iso_time(text: str) -> float | None:
    """Unix seconds of an RFC 3339 / nginx `$time_iso8601` stamp; naive means local time."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    base = _iso_minute(year, month, day, hour, minute, zone)
    seconds = _SECONDS.get(second)
    if base is None or seconds is None:
        return None
    if fraction:
        return float(base + seconds + int(fraction) / 10 ** len(fraction))
    return float(base + seconds)


@lru_cache(maxsize=1024)
def _iso_minute(year: str, month: str, day: str, hour: str, minute: str,
                zone: str | None) -> float | None:
    """Unix seconds of the start of one minute; local time when `zone` is None."""
    tzinfo: timezone | None = None
    if zone in ("Z", "z"):
        tzinfo = UTC
    elif zone is not None:
        off_hours, off_minutes = int(zone[1:3]), int(zone[-2:])
        if off_minutes >= 60:
            return None
        offset = timedelta(hours=off_hours, minutes=off_minutes)
        tzinfo = timezone(-offset if zone[0] == "-" else offset)
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        tzinfo=tzinfo).timestamp()
    except ValueError:
        return None


def parse_syslog(text: str, *, now: float) -> SyslogRecord | None:
    """Split a classic (`Nov 22 04:15:57 host prog[pid]: msg`) or RFC 3339 syslog line."""
    match = _SYSLOG_CLASSIC.match(text)
    if match is not None:
        host, program, pid, message = match.group(6, 7, 8, 9)
        stamp = _classic_stamp(match, now)
    else:
        match = _SYSLOG_ISO.match(text)
        if match is None:
            return None
        iso, host, program, pid, message = match.groups()
        stamp = parse_iso_time(iso)
    if stamp is None:
        return None
    return SyslogRecord(time=stamp, host=host, program=program or "",
                        pid=int(pid) if pid else None, message=message)


def parse_syslog_time(text: str, *, now: float) -> float | None:
    """The time of a classic or RFC 3339 syslog line, as parse_syslog reads it, without
    splitting the rest of the line."""
    match = _SYSLOG_CLASSIC.match(text)
    if match is not None:
        return _classic_stamp(match, now)
    match = _SYSLOG_ISO.match(text)
    return None if match is None else parse_iso_time(match.group(1))


def _classic_stamp(match: re.Match[str], now: float) -> float | None:
    """The time of a line `_SYSLOG_CLASSIC` matched."""
    month_name, day, hour, minute, second = match.group(1, 2, 3, 4, 5)
    return _classic_time(month_name, int(day), int(hour), int(minute), second, now)


_CLASSIC_CACHE: dict[tuple[str, int, int, int, str], tuple[float | None, float, float]] = {}
_CLASSIC_CACHE_SIZE = 4096


def _classic_time(month_name: str, day: int, hour: int, minute: int, second: str,
                  now: float) -> float | None:
    """Local unix time of a year-less stamp: the latest year not more than a day after `now`.

    Remembered with the `now`s it holds for: from a day before the stamp until a day before
    the same stamp in the next year that has it (then that year is the latest)."""
    key = (month_name, day, hour, minute, second)
    cached = _CLASSIC_CACHE.get(key)
    if cached is not None and cached[1] <= now < cached[2]:
        return cached[0]
    month = _MONTHS.get(month_name)
    seconds = _SECONDS.get(second)
    if month is None or seconds is None or hour > 23 or minute > 59:
        return None
    this_year = time.localtime(now).tm_year
    found: float | None = None
    lo, hi = now, math.nextafter(now, math.inf)  # without a year found: this `now` only
    # Up to eight years back: 29 Feb stamps only exist in leap years (and 2100 is not one).
    for year in range(this_year + 1, this_year - 9, -1):
        base = _local_minute(year, month, day, hour, minute)
        if base is not None and base + seconds <= now + _FUTURE_SLACK:
            found = base + seconds
            lo, hi = found - _FUTURE_SLACK, math.inf
            for later in range(year + 1, year + 9):
                after = _local_minute(later, month, day, hour, minute)
                if after is not None:
                    hi = after + seconds - _FUTURE_SLACK
                    break
            break
    if len(_CLASSIC_CACHE) >= _CLASSIC_CACHE_SIZE:
        _CLASSIC_CACHE.clear()
    _CLASSIC_CACHE[key] = (found, lo, hi)
    return found


@lru_cache(maxsize=1024)
def _local_minute(year: int, month: int, day: int, hour: int, minute: int) -> float | None:
    """Unix seconds of the start of one local-time minute; None if the date does not exist."""
    try:
        return datetime(year, month, day, hour, minute).timestamp()
    except ValueError:
        return None
