"""The Hyperscan prefilter of fail2ban filters: it may flag too much, never too little."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.matching.fail2ban import Fail2banFilter, prefilter
from floodwall.matching.fail2ban.engine import DENSE_CANDIDATES, SMALL_LOG_BYTES
from floodwall.matching.fail2ban.prefilter import (
    HYPERSCAN_INSTALLED,
    Unsupported,
    build,
    superset_pattern,
)
from tests.support.hidden import env_without


def _flagged(regexes: list[str], lines: list[bytes], *, date_gap: bool = True) -> list[int]:
    buffer = b"".join(line + b"\n" for line in lines)
    starts = build(regexes, date_gap=date_gap).line_starts(buffer)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    return [offsets.index(start) for start in starts]


def test_only_lines_that_may_match_are_flagged() -> None:
    lines = [b"Failed password for root from 192.0.2.1", b"Accepted key for root",
             b"x Failed password for bob from 198.51.100.7 port 22"]
    assert _flagged([r"^Failed password for \S+ from \d+\.\d+\.\d+\.\d+"], lines) == [0, 2]


def test_a_date_removed_from_inside_a_match_is_allowed_for() -> None:
    # fail2ban matches the line without its date: "user bob failed" once the date is cut out.
    lines = [b"user bob 2026-03-02 08:00:01 failed", b"user bob failed", b"user alice ok"]
    assert _flagged([r"^user bob failed$"], lines) == [0, 1]
    assert _flagged([r"^user bob failed$"], lines, date_gap=False) == [1]


def test_unicode_classes_and_case_folding_keep_non_ascii_lines() -> None:
    lines = ["code \u0663\u0664 end".encode(), "\u212aelvin".encode(), b"code xx end",
             b"bad \xff\xfe bytes end"]
    assert _flagged([r"code \d+ end"], lines) == [0]
    assert _flagged([r"(?i)kelvin"], lines) == [1]
    assert _flagged([r"bad \S+ bytes"], lines) == [3]


def test_a_trailing_space_class_matches_the_newline_of_crlf_lines() -> None:
    assert _flagged([r'" 404\s'], [b'"GET /x" 404\r', b'"GET /x" 200\r']) == [0]


def test_a_regex_that_matches_anything_has_no_prefilter() -> None:
    with pytest.raises(Unsupported):
        build([r"^\s*$"])


def test_built_prefilters_and_verdicts_are_cached(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    regexes = [r"^Failed password for \S+ from \d+\.\d+\.\d+\.\d+"]
    lines = [b"Failed password for root from 192.0.2.1", b"Accepted key for root"]
    assert _flagged(regexes, lines) == [0]
    with pytest.raises(Unsupported):
        build([r"^\s*$"])
    assert len(list((tmp_path / "floodwall" / "hyperscan").glob("*.hsdb"))) == 2

    def no_rewrite(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("rewritten again instead of read from the cache")

    monkeypatch.setattr(prefilter, "superset_pattern", no_rewrite)
    assert _flagged(regexes, lines) == [0]
    with pytest.raises(Unsupported):
        build([r"^\s*$"])
    # a damaged entry only costs the rewrite
    for entry in (tmp_path / "floodwall" / "hyperscan").glob("*.hsdb"):
        entry.write_bytes(b"damaged")
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _flagged(regexes, lines) == [0]


FILTER = """[Definition]
failregex = ^<HOST> .*"GET (?!/robots\\.txt).*" (401|403|404|503)\\s
datepattern = ^[^\\[]*\\[({DATE})
"""

LOG = (
    '192.0.2.1 - - [02/Mar/2026:08:00:01 +0000] "GET /wp-admin/ HTTP/1.1" 404 10 "-" "a"\n'
    '192.0.2.2 - - [02/Mar/2026:08:00:02 +0000] "GET / HTTP/1.1" 200 10 "-" "a"\n'
    '192.0.2.3 - - [02/Mar/2026:08:00:03 +0000] "GET /robots.txt HTTP/1.1" 404 10 "-" "a"\n'
    '2001:db8::4 - - [02/Mar/2026:08:00:04 +0000] "GET /.env HTTP/1.1" 403 10 "-" "\u00fc"\n'
    '192.0.2.5 - - [02/Mar/2026:08:00:05 +0000] "POST /x HTTP/1.1" 404 10 "-" "a"\n'
    '192.0.2.6 - - [02/Mar/2026:08:00:06 +0000] "GET /y HTTP/1.1" 503 10 "-" "a"'
)


@pytest.mark.parametrize("prefilter", [True, False])
def test_feed_buffer_reports_what_feed_reports(tmp_path: Path, prefilter: bool) -> None:
    path = tmp_path / "dos.conf"
    path.write_text(FILTER)
    by_line = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000))
    expected = [f.to_json() for n, line in enumerate(LOG.split("\n"), 1)
                for f in by_line.feed(line, n)]
    buffered = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000),
                              prefilter=prefilter)
    data = LOG.encode()
    cut = data.index(b"\n", len(data) // 2) + 1
    first = buffered.feed_buffer(data[:cut], 1)
    second = buffered.feed_buffer(data[cut:], 1 + data[:cut].count(b"\n"))
    got = [f.to_json() for f in first + second]
    assert got == expected
    assert [f["lineno"] for f in got] == [1, 4, 6]
    assert [f["host"] for f in got] == ["192.0.2.1", "2001:db8::4", "192.0.2.6"]
    assert (buffered.stats.lines, buffered.stats.matched) == (6, 3)


def test_multi_line_filters_read_every_line(tmp_path: Path) -> None:
    path = tmp_path / "ml.conf"
    path.write_text("[Definition]\nfailregex = ^login from <HOST>\\n.*denied$\nmaxlines = 2\n")
    engine = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000),
                            prefilter=True)
    failures = engine.feed_buffer(b"login from 192.0.2.9\naccess denied\nlogin from 192.0.2.8\n", 1)
    assert [(f.host, f.lineno) for f in failures] == [("192.0.2.9", 2)]
    assert engine.stats.lines == 3


@pytest.mark.parametrize("line", [
    b'"GE2026-03-02 08:00:01T /x" 404 end',   # short literal cut in its middle
    b'"GET /x" 42026-03-02 08:00:0104 end',   # inside one branch of an alternation
    b'"GET /x" 404 end',
])
def test_a_date_cut_out_of_a_literal_or_a_branch_still_flags_the_line(line: bytes) -> None:
    assert _flagged([r'"GET /x" (?:401|404)\s'], [line, b'"GET /x" 200 end']) == [0]


def test_a_long_literal_cut_by_a_date_keeps_half_of_itself_on_either_side() -> None:
    lines = [b"authentic2026-03-02 08:00:01ation failure", b"authentication failure",
             b"auth x failure", b"a n failure"]
    assert _flagged([r"authentication failure"], lines) == [0, 1]


def test_a_longer_alternative_ending_with_a_shorter_one_is_dropped() -> None:
    # `"GET .*" 404` and its gapped forms all end with `" 404`, which alone flags the same lines.
    pattern = superset_pattern(r'"GET .*" 404\s')
    assert pattern.count("|") <= 2, pattern
    assert _flagged([r'"GET .*" 404\s'], [b'"POST /" 404 x', b'"GET /" 200 x']) == [0]


def _floodwall(env: dict[str, str], *args: str) -> list[Any]:
    """The JSON objects a `floodwall` command prints, one a line."""
    result = subprocess.run([sys.executable, "-m", "floodwall", *args], capture_output=True,
                            text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _with_and_without_hyperscan(tmp_path: Path, *args: str) -> tuple[list[Any], list[Any]]:
    """What a `floodwall` command prints with Hyperscan, and in a process that cannot import it
    (as on arm64); each with a cache of its own."""
    if not HYPERSCAN_INSTALLED:
        pytest.skip("SKIPPED LOUDLY: Hyperscan is not installed here, nothing to compare with")
    hidden = env_without(tmp_path / "no-hyperscan", "hyperscan")
    return (_floodwall(dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")), *args),
            _floodwall(dict(hidden, XDG_CACHE_HOME=str(tmp_path / "cache-hidden")), *args))


def _auth_log(path: Path, lines: int) -> int:
    """An auth.log of key logins with a failed password every 25th line; their count."""
    failed = 0
    with path.open("w") as log:
        for n in range(lines):
            stamp = f"Mar  2 08:{n // 600 % 60:02d}:{n // 10 % 60:02d} gw sshd[{1000 + n}]:"
            if n % 25 == 0:
                failed += 1
                log.write(f"{stamp} Failed password for root from 198.51.100.{n % 7} "
                          f"port 22 ssh2\n")
            else:
                log.write(f"{stamp} Accepted publickey for alice from 10.0.{n // 250}.{n % 250} "
                          f"port 22 ssh2\n")
    return failed


def test_without_hyperscan_floodwall_regex_finds_the_same_failures(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    log, filter_path = tmp_path / "auth.log", tmp_path / "ssh.conf"
    failed = _auth_log(log, 8000)
    filter_path.write_text("[Definition]\n"
                           "failregex = Failed password for \\S+ from <HOST> port \\d+\n")
    # With Hyperscan the log is large and sparse enough for the prefilter to be used.
    assert log.stat().st_size > SMALL_LOG_BYTES
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-here"))
    engine = Fail2banFilter(load_filter(str(filter_path)))
    regexes = [regex.pattern.pattern for regex in engine.failregexes]
    assert len(build(regexes).line_starts(log.read_bytes())) == failed < DENSE_CANDIDATES * 8000
    found, hidden = _with_and_without_hyperscan(
        tmp_path, "regex", "--json", "--now", "1772438400", "--workers", "1", str(log),
        str(filter_path))
    assert len(found) == failed
    assert hidden == found


def test_without_hyperscan_replay_makes_the_same_bans(tmp_path: Path) -> None:
    """The daemon's path of a line (pipeline.py, which replay runs too): a native access jail,
    whose prefilter falls back to Python's re, and a fail2ban-regex jail."""
    auth, access = tmp_path / "auth.log", tmp_path / "access.log"
    _auth_log(auth, 3000)
    with access.open("w") as log:
        for n in range(3000):
            client, method, path = f"10.1.{n // 250}.{n % 250}", "GET", "/"
            if n % 50 == 0:
                client, method, path = f"203.0.113.{n % 3}", "POST", "/wp-login.php"
            log.write(f'{client} - - [02/Mar/2026:08:{n // 60 % 60:02d}:{n % 60:02d} +0000] '
                      f'"{method} {path} HTTP/1.1" 200 10 "-" "x"\n')
    config = tmp_path / "floodwall.toml"
    config.write_text(f"""
[jails.wordpress]
logpath = ["{access}"]
methods = ["POST"]
path = '/wp-login\\.php$'
maxretry = 3
[jails.ssh]
filter = "regex"
logpath = ["{auth}"]
failregex = ['Failed password for \\S+ from <HOST> port \\d+']
maxretry = 3
""")
    found, hidden = _with_and_without_hyperscan(tmp_path, "replay", "--json", "--config",
                                                str(config))
    assert {ban["jail"] for ban in found} == {"wordpress", "ssh"}
    assert hidden == found
