"""A whole log through one filter: worker processes find exactly what one process finds."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.matching.fail2ban import Fail2banFilter, FilterFailure, logrun

NOW = 1124013600.0  # 2005-08-14 10:00:00 UTC
DOS = ('[Definition]\nfailregex = ^<HOST> .*"GET (?!/robots\\.txt).*" (401|403|404|503)\\s\n'
       "datepattern = ^[^\\[]*\\[({DATE})\n              {^LN-BEG}\n")
SSHD_LIKE = ("[Definition]\nprefregex = ^\\S+ sshd\\[<F-MLFID>\\d+</F-MLFID>\\]: "
             "<F-CONTENT>.+</F-CONTENT>$\n"
             "failregex = ^Failed password for \\S+ from <HOST>\n"
             "            ^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>\n")

pytestmark = pytest.mark.usefixtures("utc")


def _filter(tmp_path: Path, definition: str) -> Fail2banFilter:
    path = tmp_path / "filter.d" / "t.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(definition)
    return Fail2banFilter(load_filter(str(path)), clock=ManualClock(NOW))


def _access_log(path: Path, lines: int, *, final_newline: bool = True) -> None:
    """Access lines with every kind the filter must tell apart, plus broken bytes."""
    chooser = random.Random(7)
    rows = []
    for number in range(lines):
        client = f"192.0.2.{chooser.randrange(1, 40)}"
        target = chooser.choice(["/", "/wp-login.php", "/robots.txt", "/x?u=198.51.100.9"])
        method = chooser.choice(["GET", "GET", "POST"])
        status = chooser.choice([200, 301, 401, 403, 404, 404, 503])
        second = number % 60
        rows.append(f'{client} - - [14/Aug/2005:09:{number // 60 % 60:02d}:{second:02d} +0000] '
                    f'"{method} {target} HTTP/1.1" {status} 12 "-" "agent"')
        if number % 997 == 0:
            rows.append("garbage \xff line without a date")
    text = "\n".join(rows) + ("\n" if final_newline else "")
    path.write_bytes(text.encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff"))


def _summary(engine: Fail2banFilter, failures: list[FilterFailure]) -> object:
    stats = engine.stats
    return ([(f.lineno, f.host, f.time, f.regex_index, dict(f.fields)) for f in failures],
            (stats.lines, stats.matched, stats.ignored, stats.failregex_hits),
            sorted((t.name, hits) for t, hits in engine.dates.hits()))


@pytest.mark.parametrize("workers", [2, 3, 5])
@pytest.mark.parametrize("final_newline", [True, False])
def test_workers_find_what_one_process_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             workers: int, final_newline: bool) -> None:
    log = tmp_path / "access.log"
    _access_log(log, 20_000, final_newline=final_newline)
    monkeypatch.setattr(logrun, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(logrun, "CHUNK_BYTES", 64 << 10)  # several buffers per range
    serial = _filter(tmp_path, DOS)
    expected = _summary(serial, list(logrun.log_failures(serial, str(log), workers=1)))
    parallel = _filter(tmp_path, DOS)
    found = _summary(parallel, list(logrun.log_failures(parallel, str(log), workers=workers)))
    assert found == expected
    failures, (lines, matched, _, _), _ = expected  # type: ignore[misc]
    assert lines == 20_000 + 21 and 0 < matched < lines
    assert all(host != "198.51.100.9" for _, host, *_ in failures)


def test_single_line_filters_are_split(tmp_path: Path) -> None:
    assert logrun.splittable(_filter(tmp_path, DOS))
    assert logrun.splittable(_filter(tmp_path, SSHD_LIKE))
    assert not logrun.splittable(_filter(tmp_path, DOS + "maxlines = 2\n"))


def _serial_and_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, definition: str,
                         log: Path, warmup: int
                         ) -> tuple[tuple[Fail2banFilter, list[FilterFailure]], ...]:
    """The log read by one process and by three (small pieces, the given warm-up): each
    filter with its failures; both found the same."""
    monkeypatch.setattr(logrun, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(logrun, "CHUNK_BYTES", 16 << 10)
    monkeypatch.setattr(logrun, "WARMUP_BYTES", warmup)
    runs = []
    for workers in (1, 3):
        engine = _filter(tmp_path, definition)
        runs.append((engine, list(logrun.log_failures(engine, str(log), workers=workers))))
    assert _summary(*runs[0]) == _summary(*runs[1])
    return tuple(runs)


@pytest.mark.parametrize("warmup", [logrun.WARMUP_BYTES, 0])
def test_a_range_counts_only_from_the_state_the_previous_one_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warmup: int) -> None:
    log = tmp_path / "access.log"
    _access_log(log, 6_000)
    _, (parallel, _) = _serial_and_parallel(tmp_path, monkeypatch, DOS, log, warmup)
    # Without a warm-up a worker starts knowing no earlier date: its range is read again.
    assert parallel.stats.reread_ranges == (0 if warmup else 2)


def _auth_log(path: Path, connections: int) -> None:
    """Interleaved connections: each opens with a NOFAIL line, fails one to three times."""
    chooser = random.Random(11)
    open_ones: list[tuple[int, int]] = []
    rows = []
    for pid in range(connections):
        rows.append(f"host sshd[{pid}]: Connection from 192.0.2.{pid % 250}")
        open_ones.append((pid, chooser.randrange(1, 4)))
        while len(open_ones) > 30 or (open_ones and pid == connections - 1):
            index = chooser.randrange(len(open_ones))
            other, left = open_ones[index]
            rows.append(f"host sshd[{other}]: Failed password for root from 192.0.2.{other % 250}")
            if left == 1:
                open_ones.pop(index)
            else:
                open_ones[index] = (other, left - 1)
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("warmup", [logrun.WARMUP_BYTES, 0])
def test_ticket_filters_split_where_the_tickets_are_rebuilt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warmup: int) -> None:
    log = tmp_path / "auth.log"
    _auth_log(log, 3_000)
    (_, expected), (parallel, found) = _serial_and_parallel(tmp_path, monkeypatch, SSHD_LIKE,
                                                            log, warmup)
    assert [(f.attempts, f.lines) for f in found] == [(f.attempts, f.lines) for f in expected]
    # a connection's first failure carries its NOFAIL line too, the later ones only their own
    assert {f.attempts for f in found} == {1, 2}
    # With a warm-up each worker rebuilds the connections open at its start; without one
    # it misses them, and its range is read again here.
    assert parallel.stats.reread_ranges == (0 if warmup else 2)


def test_a_ticket_open_at_the_cut_is_followed_across_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A connection's NOFAIL line and its failure sit on both sides of the middle of the log.
    # (80 connections: fail2ban's ticket cache holds 100.)
    rows = [f"host sshd[{pid}]: Connection from 192.0.2.{pid}" for pid in range(80)]
    rows += [f"host sshd[{pid}]: Failed password for root from 192.0.2.{pid}"
             for pid in range(80)]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(logrun, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(logrun, "WARMUP_BYTES", 0)
    engine = _filter(tmp_path, SSHD_LIKE)
    failures = list(logrun.log_failures(engine, str(log), workers=2))
    assert [f.lineno for f in failures] == list(range(81, 161))
    assert all(f.attempts == 2 for f in failures)  # the ticket's NOFAIL line is evidence
    assert engine.stats.reread_ranges == 1


def test_a_small_log_is_read_without_building_a_prefilter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floodwall.matching.fail2ban import engine as engine_module

    built: list[int] = []
    real_build = engine_module.build_prefilter

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engine_module, "build_prefilter", counting_build)
    small, large = tmp_path / "small.log", tmp_path / "large.log"
    _access_log(small, 200)
    _access_log(large, 4_000)
    assert small.stat().st_size < engine_module.SMALL_LOG_BYTES <= large.stat().st_size
    found = list(logrun.log_failures(_filter(tmp_path, DOS), str(small), workers=1))
    assert found and not built
    assert list(logrun.log_failures(_filter(tmp_path, DOS), str(large), workers=1))
    assert built == [1]


@pytest.mark.parametrize("definition", [DOS, SSHD_LIKE])
def test_counting_only_gives_the_counters_of_a_full_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, definition: str) -> None:
    log = tmp_path / "mixed.log"
    if definition == DOS:
        _access_log(log, 3_000)
    else:
        _auth_log(log, 1_500)
    monkeypatch.setattr(logrun, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(logrun, "CHUNK_BYTES", 16 << 10)
    full = _filter(tmp_path, definition)
    failures = list(logrun.log_failures(full, str(log), workers=1))
    counted = _filter(tmp_path, definition)
    logrun.count_log(counted, str(log), workers=3)
    assert _summary(counted, [])[1:] == _summary(full, failures)[1:]
    assert counted.stats.matched == len({f.lineno for f in failures}) > 0
