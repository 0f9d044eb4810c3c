"""Tests of the prefilter: never drops a line that could match; drops most that cannot."""

from __future__ import annotations

import pytest

from floodwall.matching.prefilter import Prefilter

DOS = (('" 401 ', '" 403 ', '" 404 ', '" 503 '), ('"GET ',))
WP = (('"POST ',),)
SSHD = (("Failed ", "Invalid user ", "invalid user "), ("sshd",))

LINES = [
    b'192.0.2.1 - - [02/Mar/2026:08:00:00 +0000] "GET /a HTTP/1.1" 404 10 "-" "x"',   # dos
    b'192.0.2.2 - - [02/Mar/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 10 "-" "x"',
    b'192.0.2.3 - - [02/Mar/2026:08:00:00 +0000] "HEAD /a HTTP/1.1" 404 10 "-" "x"',
    b'192.0.2.4 - - [02/Mar/2026:08:00:00 +0000] "POST /wp-login.php HTTP/1.1" 200 1 "-" "x"',
    b'Mar  2 08:00:01 web1 sshd[7]: Failed password for root from 192.0.2.5 port 1 ssh2',
    b'Mar  2 08:00:01 web1 CRON[7]: Failed something',                                  # no sshd
    b'192.0.2.6 - - [02/Mar/2026:08:00:00 +0000] "GET /" 404 " HTTP/1.1" 200 1 "-" "x"',  # FP ok
    b'',
    b'\xff\xfe" 404 "GET ',
]


@pytest.fixture(params=["hyperscan", "re"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "re":
        monkeypatch.setitem(__import__("sys").modules, "hyperscan", None)
    else:
        pytest.importorskip("hyperscan", reason="LOUD SKIP: hyperscan wheel not installed")
    return str(request.param)


def _selected(prefilter: Prefilter, lines: list[bytes]) -> list[int]:
    buffer = b"\n".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    return [starts.index(start) for start, end in prefilter.spans(buffer)]


def test_spans_keep_every_possible_match_and_drop_the_rest(engine: str) -> None:
    prefilter = Prefilter([DOS, WP, SSHD])
    assert _selected(prefilter, LINES) == [0, 3, 4, 6, 8]
    assert [prefilter.text(line.decode("utf-8", "replace")) for line in LINES] == [
        i in (0, 3, 4, 6, 8) for i in range(len(LINES))]


def test_a_filter_without_condition_lets_everything_through(engine: str) -> None:
    assert Prefilter([DOS, None]).passes_everything
    assert Prefilter([DOS, ()]).passes_everything
    assert not Prefilter([DOS]).passes_everything
    assert Prefilter([]).passes_everything


def test_many_hits_on_one_line_give_one_span(engine: str) -> None:
    line = b'"GET /x" 404 " 404 " 404 "GET "POST '
    assert list(Prefilter([DOS, WP]).spans(line)) == [(0, len(line))]


def test_engines_agree_on_a_large_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan", reason="LOUD SKIP: hyperscan wheel not installed")
    lines = [LINES[n % len(LINES)] for n in range(20_000)]
    fast = _selected(Prefilter([DOS, WP, SSHD]), lines)
    monkeypatch.setitem(__import__("sys").modules, "hyperscan", None)
    assert _selected(Prefilter([DOS, WP, SSHD]), lines) == fast
    assert len(fast) == sum(1 for n in range(20_000) if n % len(LINES) in (0, 3, 4, 6, 8))
