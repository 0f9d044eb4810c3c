"""The Hyperscan prefilter of fail2ban filters: it may flag too much, never too little."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.matching.fail2ban import Fail2banFilter, prefilter
from floodwall.matching.fail2ban.prefilter import Unsupported, build, superset_pattern


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
    buffered = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000), prefilter=prefilter)
    data = LOG.encode()
    cut = data.index(b"\n", len(data) // 2) + 1
    first = buffered.feed_buffer(data[:cut], 1)
    got = [f.to_json() for f in first + buffered.feed_buffer(data[cut:], 1 + data[:cut].count(b"\n"))]
    assert got == expected
    assert [f["lineno"] for f in got] == [1, 4, 6]
    assert [f["host"] for f in got] == ["192.0.2.1", "2001:db8::4", "192.0.2.6"]
    assert (buffered.stats.lines, buffered.stats.matched) == (6, 3)


def test_multi_line_filters_read_every_line(tmp_path: Path) -> None:
    path = tmp_path / "ml.conf"
    path.write_text("[Definition]\nfailregex = ^login from <HOST>\\n.*denied$\nmaxlines = 2\n")
    engine = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000), prefilter=True)
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
