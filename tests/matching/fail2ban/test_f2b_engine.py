"""The filter state machine: prefregex, ignoreregex, multi-line buffers, mlfid tickets, dates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.errors import ConfigError
from floodwall.matching.fail2ban import Fail2banFilter, FilterFailure

NOW = 1124013600.0  # 2005-08-14 10:00:00 UTC


pytestmark = pytest.mark.usefixtures("utc")


def _filter(tmp_path: Path, definition: str, **kwargs: object) -> Fail2banFilter:
    path = tmp_path / "filter.d" / "t.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[Definition]\n" + definition)
    return Fail2banFilter(load_filter(str(path)), clock=ManualClock(NOW), **kwargs)  # type: ignore[arg-type]


def _feed(engine: Fail2banFilter, *lines: str) -> list[list[FilterFailure]]:
    return [engine.feed(line, number) for number, line in enumerate(lines, 1)]


def test_prefregex_content_and_ignoreregex(tmp_path: Path) -> None:
    engine = _filter(tmp_path,
                     "prefregex = ^\\s*\\S+ app\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$\n"
                     "failregex = ^bad login for <F-USER>\\S+</F-USER> from <HOST>$\n"
                     "ignoreregex = for test-user from\n")
    results = _feed(engine,
                    "Aug 14 11:00:00 host app[12]: bad login for bob from 192.0.2.4",
                    "Aug 14 11:00:01 host other[12]: bad login for bob from 192.0.2.4",
                    "Aug 14 11:00:02 host app[12]: bad login for test-user from 192.0.2.4")
    (failure,) = results[0]
    assert (failure.host, failure.time, failure.attempts) == ("192.0.2.4", NOW + 3600, 1)
    assert failure.fields["user"] == "bob"
    assert results[1] == [] and results[2] == []
    assert (engine.stats.lines, engine.stats.matched, engine.stats.ignored) == (3, 1, 1)


def test_all_failregexes_are_tried_and_each_match_is_a_failure(tmp_path: Path) -> None:
    engine = _filter(tmp_path, "failregex = from <HOST>\n            port 22 from <ADDR>\n")
    (failures,) = _feed(engine, "Aug 14 11:00:00 x port 22 from 192.0.2.5")
    assert [f.regex_index for f in failures] == [0, 1]
    assert engine.stats.failregex_hits == [1, 1]


def test_without_check_all_a_line_stops_at_its_first_failure(tmp_path: Path) -> None:
    engine = _filter(tmp_path, "failregex = from <HOST>\n            port 22 from <ADDR>\n",
                     check_all=False)
    (failures,) = _feed(engine, "Aug 14 11:00:00 x port 22 from 192.0.2.5")
    assert [f.regex_index for f in failures] == [0]
    assert engine.stats.failregex_hits == [1, 0]


def test_without_check_all_an_ignored_match_ends_the_line(tmp_path: Path) -> None:
    definition = ("failregex = ^ user \\S+ from <HOST>\n            from <HOST>\n"
                  "ignoreregex = ^ user admin\n")
    line = "Aug 14 11:00:00 user admin from 192.0.2.6"
    assert _feed(_filter(tmp_path, definition, check_all=False), line) == [[]]
    # fail2ban-regex's way: the second failregex still matches (the ignoreregex too)
    assert _feed(_filter(tmp_path, definition), line) == [[]]
    other = "Aug 14 11:00:00 user bob from 192.0.2.6"
    assert [f.regex_index for f in _feed(_filter(tmp_path, definition), other)[0]] == [0, 1]


def test_without_check_all_a_ticket_that_is_no_failure_ends_the_line(tmp_path: Path) -> None:
    definition = ("prefregex = ^ s\\[<F-MLFID>\\d+</F-MLFID>\\]: <F-CONTENT>.+</F-CONTENT>$\n"
                  "failregex = ^<F-NOFAIL>connect from</F-NOFAIL> <HOST>\n"
                  "            ^connect from <HOST>\n")
    line = "Aug 14 11:00:00 s[5]: connect from 192.0.2.10"
    assert _feed(_filter(tmp_path, definition, check_all=False), line) == [[]]
    (failures,) = _feed(_filter(tmp_path, definition), line)
    assert [f.regex_index for f in failures] == [1]


def test_multiline_buffer_with_skiplines(tmp_path: Path) -> None:
    engine = _filter(tmp_path, "maxlines = 4\n"
                               "failregex = ^ conn (?P<c>\\d+) from <HOST>$<SKIPLINES>"
                               "^ conn (?P=c) auth failed$\n")
    results = _feed(engine,
                    "Aug 14 11:00:00 conn 7 from 192.0.2.8",
                    "Aug 14 11:00:01 conn 9 from 192.0.2.99",
                    "Aug 14 11:00:02 conn 7 auth failed",
                    "Aug 14 11:00:03 conn 7 auth failed")
    assert results[0] == results[1] == [] and results[3] == []
    (failure,) = results[2]
    assert failure.host == "192.0.2.8"
    # the skipped line of connection 9 is not evidence
    assert failure.lines == ("Aug 14 11:00:00 conn 7 from 192.0.2.8",
                             "Aug 14 11:00:02 conn 7 auth failed")


def test_mlfid_ticket_collects_lines_and_honours_nofail(tmp_path: Path) -> None:
    engine = _filter(tmp_path,
                     "prefregex = ^ s\\[<F-MLFID>\\d+</F-MLFID>\\]: <F-CONTENT>.+</F-CONTENT>$\n"
                     "failregex = ^<F-NOFAIL>connect from</F-NOFAIL> <HOST>$\n"
                     "            ^auth failed for <F-USER>\\S+</F-USER>$\n"
                     "            ^<F-MLFFORGET>closed</F-MLFFORGET>$\n")
    results = _feed(engine,
                    "Aug 14 11:00:00 s[5]: connect from 192.0.2.10",
                    "Aug 14 11:00:01 s[5]: auth failed for root",
                    "Aug 14 11:00:02 s[5]: auth failed for admin",
                    "Aug 14 11:00:03 s[5]: closed",
                    "Aug 14 11:00:04 s[5]: auth failed for root")
    assert results[0] == []
    first, second = results[1][0], results[2][0]
    assert (first.host, first.attempts, first.fields["user"]) == ("192.0.2.10", 2, "root")
    assert second.fields["users"] == ["admin", "root"]
    # after the connection is forgotten, a failure without an address is only pending
    assert results[4] == []


def test_line_without_date_inherits_a_recent_date_only(tmp_path: Path) -> None:
    engine = _filter(tmp_path, "failregex = ^fail <HOST>$\n")
    results = _feed(engine, "Aug 14 09:59:30 start", "fail 192.0.2.11")
    assert results[1][0].time == NOW - 30
    old = _filter(tmp_path, "failregex = ^fail <HOST>$\n")
    results = _feed(old, "Aug 14 09:00:00 start", "fail 192.0.2.11")
    assert results[1][0].time is None


def test_journal_mode_uses_now_and_the_whole_line(tmp_path: Path) -> None:
    engine = _filter(tmp_path, "failregex = ^Aug 14 fail <HOST>$\n", journal=True)
    (failure,) = engine.feed("Aug 14 fail 192.0.2.12", 1)
    assert (failure.time, failure.host) == (NOW, "192.0.2.12")


def test_failregex_without_failure_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no failure id"):
        _filter(tmp_path, "failregex = ^just text$\n")


def test_stock_sshd_filter_reads_unchanged() -> None:
    path = "/etc/fail2ban/filter.d/sshd.conf"
    if not os.path.exists(path):
        pytest.skip("SKIPPED LOUDLY: Debian's fail2ban package is not installed "
                    "(apt-get install -y fail2ban)")
    engine = Fail2banFilter(load_filter(path, {"mode": "aggressive"}), clock=ManualClock(NOW))
    (failure,) = engine.feed("Aug 14 11:59:59 h sshd[7]: Invalid user oracle from "
                             "2001:db8::5 port 4242", 1)
    assert (failure.host, failure.fields["user"]) == ("2001:db8::5", "oracle")
