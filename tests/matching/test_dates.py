"""Tests of web and syslog timestamp parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from floodwall.matching.dates import SyslogRecord, parse_clf_time, parse_iso_time, parse_syslog


def local(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    """Unix time of a local wall-clock time, computed independently of the code under test."""
    return datetime(year, month, day, hour, minute, second).timestamp()


# --- Common Log Format (Apache %t, nginx $time_local) ----------------------------------

def test_clf_apache_documentation_example() -> None:
    assert parse_clf_time("10/Oct/2000:13:55:36 -0700") == 971211336.0


@pytest.mark.parametrize(("text", "expected"), [
    ("22/Nov/2026:04:15:57 +0000", 1795320957.0),
    ("22/Nov/2026:05:45:57 +0130", 1795320957.0),
    ("21/Nov/2026:23:15:57 -0500", 1795320957.0),
    ("01/Jan/1970:00:00:00 +0000", 0.0),
    ("29/Feb/2024:12:00:00 +0000", 1709208000.0),
    ("31/Dec/2016:23:59:60 +0000", 1483228800.0),
])
def test_clf_offsets_and_calendar(text: str, expected: float) -> None:
    assert parse_clf_time(text) == expected


def test_clf_cached_hour_gives_each_second() -> None:
    seconds = [parse_clf_time(f"22/Nov/2026:04:{m:02d}:{s:02d} +0000")
               for m in range(60) for s in range(0, 60, 7)]
    expected = [1795320000.0 + m * 60 + s for m in range(60) for s in range(0, 60, 7)]
    assert seconds == expected


@pytest.mark.parametrize("text", [
    "", "-", "10/Oct/2000:13:55:36", "10/Oct/2000:13:55:36 -07000",
    "10/Oct/2000:13:55:36 -07:0", "[10/Oct/2000:13:55:36 -0700]",
    "31/Feb/2000:13:55:36 -0700", "29/Feb/2023:13:55:36 +0000",
    "10/Foo/2000:13:55:36 -0700", "10/oct/2000:13:55:36 -0700",
    "10/Oct/2000:24:55:36 -0700", "10/Oct/2000:13:60:36 -0700",
    "10/Oct/2000:13:55:61 -0700", "10/Oct/2000:13:5 :36 -0700",
    "10/Oct/2000:13:+5:36 -0700", "10/Oct/2000:13:55:36 -0760",
    "1٣/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:36 \ufffd0700",
])
def test_clf_malformed_is_none(text: str) -> None:
    assert parse_clf_time(text) is None


# --- RFC 3339 / nginx $time_iso8601 ----------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-22T04:15:57+00:00", 1795320957.0),
    ("2026-11-22T04:15:57Z", 1795320957.0),
    ("2026-11-22T05:45:57+01:30", 1795320957.0),
    ("2026-11-21T23:15:57-05:00", 1795320957.0),
    ("2026-11-22T04:15:57-0000", 1795320957.0),
    ("2026-11-22T04:15:57.25+00:00", 1795320957.25),
    ("2026-11-22T04:15:57.123456Z", 1795320957.123456),
])
def test_iso_with_zone(text: str, expected: float) -> None:
    assert parse_iso_time(text) == pytest.approx(expected, abs=1e-6)


def test_iso_naive_is_local_time() -> None:
    assert parse_iso_time("2026-07-01T12:30:05") == local(2026, 7, 1, 12, 30, 5)
    assert parse_iso_time("2026-07-01T12:30:05.5") == local(2026, 7, 1, 12, 30, 5) + 0.5


@pytest.mark.parametrize("text", [
    "", "2026-11-22", "2026-11-22T04:15", "2026-11-22T04:15:57+0", "2026-13-22T04:15:57Z",
    "2026-02-30T04:15:57Z", "2026-11-22T04:15:57+00:61", "2026-11-22T04:15:57.Z",
    "2026-11-22T04:15:57Z trailing", "22/Nov/2026:04:15:57 +0000",
])
def test_iso_malformed_is_none(text: str) -> None:
    assert parse_iso_time(text) is None


def test_naive_times_follow_the_process_time_zone() -> None:
    # A real process in a zone with an offset, so "local" cannot be mistaken for UTC.
    code = (
        "import json; from floodwall.matching.dates import parse_iso_time, parse_syslog;"
        "r = parse_syslog('Jul  1 12:00:00 h sshd[1]: x', now=1782907200.0);"
        "print(json.dumps([parse_iso_time('2026-07-01T12:00:00'), r and r.time]))"
    )
    output = subprocess.run([sys.executable, "-c", code], env={"TZ": "America/New_York"},
                            capture_output=True, text=True, timeout=30, check=True).stdout
    # 12:00 EDT (UTC-4) is 16:00 UTC.
    assert json.loads(output) == [1782921600.0, 1782921600.0]


# --- syslog ------------------------------------------------------------------------------

NOW = local(2026, 11, 22, 5, 0, 0)


def test_syslog_classic_with_pid() -> None:
    record = parse_syslog(
        "Nov 22 04:15:57 gw1 sshd[1234]: Failed password for root from 203.0.113.9 port 22",
        now=NOW)
    assert record == SyslogRecord(
        time=local(2026, 11, 22, 4, 15, 57), host="gw1", program="sshd", pid=1234,
        message="Failed password for root from 203.0.113.9 port 22")


def test_syslog_space_padded_day_and_program_without_pid() -> None:
    record = parse_syslog("Nov  2 04:15:57 gw1 kernel: [ 12.5] nft drop IN=eth0", now=NOW)
    assert record is not None
    assert (record.time, record.program, record.pid, record.message) == (
        local(2026, 11, 2, 4, 15, 57), "kernel", None, "[ 12.5] nft drop IN=eth0")


def test_syslog_program_with_slash_and_empty_message() -> None:
    record = parse_syslog("Nov 22 04:15:57 mx postfix/smtpd[77]:", now=NOW)
    assert record is not None
    assert (record.program, record.pid, record.message) == ("postfix/smtpd", 77, "")


def test_syslog_without_tag_keeps_the_text_as_message() -> None:
    record = parse_syslog("Nov 22 04:15:57 gw1 last message repeated 3 times", now=NOW)
    assert record is not None
    assert (record.program, record.pid, record.message) == (
        "", None, "last message repeated 3 times")


def test_syslog_rfc3339() -> None:
    record = parse_syslog(
        "2026-11-22T04:15:57.123456+00:00 gw1 sshd[1234]: Invalid user admin from ::1", now=0.0)
    assert record is not None
    assert record.time == pytest.approx(1795320957.123456, abs=1e-6)
    assert (record.host, record.program, record.pid, record.message) == (
        "gw1", "sshd", 1234, "Invalid user admin from ::1")


def test_syslog_year_is_previous_for_december_lines_read_in_january() -> None:
    record = parse_syslog("Dec 31 23:59:59 h sshd[1]: x", now=local(2027, 1, 1, 0, 0, 5))
    assert record is not None and record.time == local(2026, 12, 31, 23, 59, 59)


def test_syslog_year_is_next_for_a_stamp_slightly_ahead_across_new_year() -> None:
    record = parse_syslog("Jan  1 00:00:30 h sshd[1]: x", now=local(2026, 12, 31, 23, 59, 50))
    assert record is not None and record.time == local(2027, 1, 1, 0, 0, 30)


def test_syslog_stamp_more_than_a_day_ahead_is_last_year() -> None:
    record = parse_syslog("Nov 24 04:00:00 h sshd[1]: x", now=NOW)
    assert record is not None and record.time == local(2025, 11, 24, 4, 0, 0)


def test_syslog_leap_day_goes_back_to_a_leap_year() -> None:
    record = parse_syslog("Feb 29 10:00:00 h sshd[1]: x", now=local(2026, 3, 1, 0, 0, 0))
    assert record is not None and record.time == local(2024, 2, 29, 10, 0, 0)


@pytest.mark.parametrize("text", [
    "", "Nov 22 04:15:57", "Nov 22 04:15:57 ", "Foo 22 04:15:57 h sshd: x",
    "Nov 32 04:15:57 h sshd: x", "Nov 22 25:15:57 h sshd: x", "Nov 22 04:15 h sshd: x",
    "2026-11-22T04:15:57 h", "2026-99-22T04:15:57Z h sshd: x", "\ufffd" * 1000,
])
def test_syslog_malformed_is_none(text: str) -> None:
    assert parse_syslog(text, now=NOW) is None


def _latest_year_reference(month: int, day: int, clock: str, now: float) -> float | None:
    """The rule, computed plainly: the latest year whose stamp is at most a day after now."""
    hour, minute, second = map(int, clock.split(":"))
    this_year = datetime.fromtimestamp(now).year
    for year in range(this_year + 1, this_year - 9, -1):
        try:
            stamp = datetime(year, month, day, hour, minute).timestamp() + second
        except ValueError:
            continue
        if stamp <= now + 86400:
            return stamp
    return None


def test_remembered_year_less_stamps_follow_now_across_years() -> None:
    import random

    from floodwall.matching.dates import parse_syslog_time

    rng = random.Random(11)
    stamps = [("Dec", 31, "23:59:58"), ("Jan", 1, "00:00:03"), ("Feb", 29, "12:00:00"),
              ("Jul", 4, "08:30:00"), ("Dec", 30, "10:00:00")]
    now = datetime(2023, 12, 20).timestamp()
    for _ in range(4000):  # back and forth over two new years and a 29 February
        now += rng.choice((-90_000.0, 3_600.0, 86_400.0, 7.0, 400_000.0))
        name, day, clock = rng.choice(stamps)
        text = f"{name} {day:2d} {clock} host sshd[1]: x"
        month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                 "Dec"].index(name) + 1
        expected = _latest_year_reference(month, day, clock, now)
        record = parse_syslog(text, now=now)
        assert (record.time if record else None) == expected, (text, now)
        assert parse_syslog_time(text, now=now) == expected, (text, now)
