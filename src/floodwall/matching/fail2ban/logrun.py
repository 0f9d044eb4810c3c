"""Running one fail2ban filter over a whole log file: serially, or in worker processes that
each read a range of it, checked to give exactly what one process gives."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

from floodwall.matching.fail2ban.engine import (
    SMALL_LOG_BYTES,
    CarriedState,
    Fail2banFilter,
    FilterFailure,
    FilterStats,
)
from floodwall.matching.fail2ban.tickets import Ticket, TicketJournal

CHUNK_BYTES = 1 << 20
"""A log is read and matched this many bytes at a time (cut at a line end)."""
PARALLEL_MIN_BYTES = 16 << 20
"""Logs smaller than this run in one process: forking and merging would cost more than it
saves."""

WARMUP_BYTES = 1 << 20
"""A worker first reads up to this much of the log before its range, results discarded, to
rebuild what earlier lines leave for later ones (connection tickets, the last date)."""
PARENT_SHARE = 1.1
"""The first range's size relative to a worker's (measured best): a worker also reads its
warm-up, journals its tickets and pickles its results (forked, it pays for every page it
writes), which outweighs this process reading the results in."""

# The filter a forked worker inherits (set just before the pool forks; fork only).
_inherited: Fail2banFilter | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RangeResult:
    """What one worker found in its byte range of the log."""

    failures: list[tuple[Any, ...]]
    """Failures as tuples of their fields (pickled several times faster than the objects),
    numbered from 1 at the range's first line."""
    lines: int
    """Lines in the range."""
    stats: FilterStats
    """The worker's counters for the range."""
    date_hits: dict[str, int]
    """Date template name -> lines whose date it found."""
    start_state: CarriedState
    """What the worker's warm-up left at the range's start."""
    journal: TicketJournal
    """What the range did to the tickets (replayed on the true tickets to check it)."""
    end_state: CarriedState
    """What the range left at its end."""


def log_buffers(path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes `start`..`end` of the file (both at line starts) in pieces of whole lines.

    Unbuffered reads of CHUNK_BYTES (small enough to stay in the CPU cache while the piece
    is scanned, counted and decoded); the partial line at the end of a read is read again
    with the next piece instead of being joined to it.
    """
    with open(path, "rb", buffering=0) as handle:
        position = handle.seek(start)
        stop = end if end is not None else float("inf")
        size = CHUNK_BYTES
        while position < stop:
            chunk = handle.read(int(min(size, stop - position)))
            if not chunk:
                break
            cut = chunk.rfind(b"\n") + 1
            if position + len(chunk) >= stop or len(chunk) < size and not cut:
                cut = len(chunk)  # the range's (or the file's) last piece
            elif not cut:
                size *= 2  # one line longer than a piece: read it whole
                handle.seek(position)
                continue
            size = CHUNK_BYTES
            position += cut
            if cut < len(chunk):
                handle.seek(position)
                chunk = chunk[:cut]
            yield chunk


def feed_buffers(engine: Fail2banFilter, buffers: Iterator[bytes]) -> Iterator[FilterFailure]:
    """Every failure of the buffers (whole lines, in order), numbered from line 1."""
    lineno = 1
    for buffer in buffers:
        yield from engine.feed_buffer(buffer, lineno)
        lineno += buffer.count(b"\n") + (not buffer.endswith(b"\n"))


def splittable(engine: Fail2banFilter) -> bool:
    """Whether the filter can run in ranges: single-line (what one line leaves for the next
    is then small enough to check, see CarriedState)."""
    return engine.definition.maxlines == 1


def _line_start_after(path: str, offset: int) -> int:
    """Offset of the first line that starts at or after `offset`."""
    if offset <= 0:
        return 0
    with open(path, "rb") as handle:
        handle.seek(offset - 1)
        handle.readline()
        return handle.tell()


def _range_starts(path: str, size: int, parts: int) -> list[int]:
    """Offsets of the first line of each of `parts` ranges: the first (this process's, which
    also collects the others' results) PARENT_SHARE the size of each of the others."""
    starts = [0]
    whole = PARENT_SHARE + parts - 1
    with open(path, "rb") as handle:
        for part in range(1, parts):
            handle.seek(int((PARENT_SHARE + part - 1) * size / whole))
            handle.readline()
            offset = handle.tell()
            if starts[-1] < offset < size:
                starts.append(offset)
    return starts


def _run_range(path: str, start: int, end: int, send: bool) -> RangeResult:
    """Worker: the inherited filter over one range after a warm-up, with counters of its
    own; its failures only if `send`."""
    engine = _inherited
    assert engine is not None, "workers are forked after the filter is set"
    for _ in feed_buffers(engine, log_buffers(path, _line_start_after(path, start - WARMUP_BYTES),
                                              start)):
        pass
    start_state = engine.carried_state()
    engine.tickets.record()
    engine.stats = FilterStats(failregex_hits=[0] * len(engine.failregexes),
                               ignoreregex_hits=[0] * len(engine.ignoreregexes))
    warm_hits = {template.name: hits for template, hits in engine.dates.hits()}
    failures = [(failure.lineno, failure.host, failure.time, failure.attempts, failure.fields,
                 failure.regex_index, failure.lines)
                for failure in feed_buffers(engine, log_buffers(path, start, end)) if send]
    return RangeResult(failures, engine.stats.lines, engine.stats,
                       {template.name: hits - warm_hits.get(template.name, 0)
                        for template, hits in engine.dates.hits()},
                       start_state, engine.tickets.journal(), engine.carried_state())


def _true_tickets(engine: Fail2banFilter, state: CarriedState,
                  part: RangeResult) -> list[Ticket] | None:
    """The tickets `part`'s range leaves when it starts from `state` (the true state), or
    None if it would not have gone as it did from its warm-up."""
    start = part.start_state
    if start.last_date != state.last_date or start.dates != state.dates:
        return None
    return engine.tickets.replay(state.tickets, part.journal, part.end_state.tickets)


def _merge_stats(total: FilterStats, part: FilterStats) -> None:
    total.lines += part.lines
    total.matched += part.matched
    total.ignored += part.ignored
    total.reread_ranges += part.reread_ranges
    total.failregex_hits = [a + b for a, b in zip(total.failregex_hits, part.failregex_hits,
                                                  strict=False)]
    total.ignoreregex_hits = [a + b for a, b in zip(total.ignoreregex_hits,
                                                     part.ignoreregex_hits, strict=False)]


def log_failures(engine: Fail2banFilter, path: str, workers: int | None = None
                 ) -> Iterator[FilterFailure]:
    """Every failure of the log file, in line order, as one sequential run finds them
    (see `_log_run`)."""
    return _log_run(engine, path, workers, send=True)


def count_log(engine: Fail2banFilter, path: str, workers: int | None = None) -> None:
    """Read the whole log for the filter's counters and date hits only (a report): the
    same run as `log_failures`, but workers send no failures back."""
    for _ in _log_run(engine, path, workers, send=False):
        pass


def _log_run(engine: Fail2banFilter, path: str, workers: int | None, send: bool
             ) -> Iterator[FilterFailure]:
    """The failures of the log file in line order (of the workers' ranges only if `send`).

    A large log of a single-line filter is cut at line ends into one range per worker
    (default: one per CPU); the first range runs here, the others in forked processes, and
    their counters and date template hits are added to `engine`'s. A worker's range counts
    only if it went as it would have from the state the previous range really left (same
    last date and date detector after the warm-up; its ticket journal, replayed on the true
    tickets, finding the same tickets with the same content); otherwise this process reads
    the range again from that state (counted in `stats.reread_ranges`).
    """
    size = os.path.getsize(path)
    workers = workers if workers is not None else len(os.sched_getaffinity(0))
    if workers < 2 or size < PARALLEL_MIN_BYTES or not splittable(engine) \
            or "fork" not in multiprocessing.get_all_start_methods():
        if size < SMALL_LOG_BYTES:
            engine.prepare(b"", size)  # a small log: no prefilter to build
        yield from feed_buffers(engine, log_buffers(path))
        return
    starts = _range_starts(path, size, workers)
    ends = [*starts[1:], size]
    with open(path, "rb") as handle:
        engine.prepare(handle.read(CHUNK_BYTES))  # built once, inherited by every worker
    from concurrent.futures import ProcessPoolExecutor  # only a parallel run pays its import

    global _inherited
    _inherited = engine
    try:
        with ProcessPoolExecutor(len(starts) - 1,
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            others = [pool.submit(_run_range, path, start, end, send)
                      for start, end in zip(starts[1:], ends[1:], strict=False)]
            before = engine.stats.lines
            yield from feed_buffers(engine, log_buffers(path, starts[0], ends[0]))
            offset = engine.stats.lines - before
            state = engine.carried_state()
            for start, end, future in zip(starts[1:], ends[1:], others, strict=False):
                part = future.result()
                tickets = _true_tickets(engine, state, part)
                if tickets is not None:
                    for lineno, *rest in part.failures:
                        yield FilterFailure(lineno + offset, *rest)
                    offset += part.lines
                    _merge_stats(engine.stats, part.stats)
                    engine.dates.add_hits(part.date_hits)
                    state = dataclasses.replace(part.end_state, tickets=tickets)
                    continue
                engine.adopt(state)
                engine.stats.reread_ranges += 1
                before = engine.stats.lines
                for failure in feed_buffers(engine, log_buffers(path, start, end)):
                    failure.lineno += offset
                    yield failure
                offset += engine.stats.lines - before
                state = engine.carried_state()
    finally:
        _inherited = None

