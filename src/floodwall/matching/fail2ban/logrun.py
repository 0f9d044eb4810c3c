"""Running one fail2ban filter over a whole log file: serially, or in worker processes where
cutting the file into ranges cannot change a result."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator

from floodwall.matching.fail2ban.engine import Fail2banFilter, FilterFailure, FilterStats

CHUNK_BYTES = 8 << 20
"""A log is read and matched this many bytes at a time (cut at a line end)."""
PARALLEL_MIN_BYTES = 64 << 20
"""Logs smaller than this run in one process: forking and merging would cost more than it
saves."""

# The filter a forked worker inherits (set just before the pool forks; fork only).
_inherited: Fail2banFilter | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RangeResult:
    """What one worker found in its byte range of the log."""

    failures: list[FilterFailure]
    """Failures, numbered from 1 at the range's first line."""
    lines: int
    """Lines in the range."""
    stats: FilterStats
    """The worker's counters for the range."""
    date_hits: dict[str, int]
    """Date template name -> lines whose date it found."""


def log_buffers(path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes `start`..`end` of the file (both at line starts) in large pieces of whole
    lines."""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = (end - start) if end is not None else None
        while left is None or left > 0:
            chunk = handle.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                break
            if not chunk.endswith(b"\n") and (left is None or len(chunk) < left):
                chunk += handle.readline()
            if left is not None:
                left -= len(chunk)
            yield chunk


def feed_buffers(engine: Fail2banFilter, buffers: Iterator[bytes]) -> Iterator[FilterFailure]:
    """Every failure of the buffers (whole lines, in order), numbered from line 1."""
    lineno = 1
    for buffer in buffers:
        yield from engine.feed_buffer(buffer, lineno)
        lineno += buffer.count(b"\n") + (not buffer.endswith(b"\n"))


def splittable(engine: Fail2banFilter) -> bool:
    """Whether the filter's result on a log equals the results on its pieces put together:
    single-line, no <F-MLFID> tickets that live from one line to the next."""
    regexes = [*engine.failregexes, *([engine.prefregex] if engine.prefregex else [])]
    return (engine.definition.maxlines == 1
            and not any("mlfid" in regex.pattern.groupindex for regex in regexes))


def _range_starts(path: str, size: int, parts: int) -> list[int]:
    """Offsets of the first line of each of `parts` ranges of about equal size."""
    starts = [0]
    with open(path, "rb") as handle:
        for part in range(1, parts):
            handle.seek(part * size // parts)
            handle.readline()
            offset = handle.tell()
            if starts[-1] < offset < size:
                starts.append(offset)
    return starts


def _run_range(path: str, start: int, end: int) -> RangeResult:
    """Worker: the inherited filter over one range, with counters of its own."""
    engine = _inherited
    assert engine is not None, "workers are forked after the filter is set"
    engine.stats = FilterStats(failregex_hits=[0] * len(engine.failregexes),
                               ignoreregex_hits=[0] * len(engine.ignoreregexes))
    failures = list(feed_buffers(engine, log_buffers(path, start, end)))
    return RangeResult(failures, engine.stats.lines, engine.stats,
                       {template.name: hits for template, hits in engine.dates.hits()})


def _merge_stats(total: FilterStats, part: FilterStats) -> None:
    total.lines += part.lines
    total.matched += part.matched
    total.ignored += part.ignored
    total.failregex_hits = [a + b for a, b in zip(total.failregex_hits, part.failregex_hits)]
    total.ignoreregex_hits = [a + b for a, b in zip(total.ignoreregex_hits,
                                                     part.ignoreregex_hits)]


def log_failures(engine: Fail2banFilter, path: str, workers: int | None = None
                 ) -> Iterator[FilterFailure]:
    """Every failure of the log file, in line order, as one sequential run finds them.

    A large log of a splittable filter is cut at line ends into one range per worker
    (default: one per CPU); the first range runs here, the others in forked processes, and
    their counters and date template hits are added to `engine`'s.
    """
    size = os.path.getsize(path)
    workers = workers if workers is not None else len(os.sched_getaffinity(0))
    if workers < 2 or size < PARALLEL_MIN_BYTES or not splittable(engine) \
            or "fork" not in multiprocessing.get_all_start_methods():
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
            others = [pool.submit(_run_range, path, start, end)
                      for start, end in zip(starts[1:], ends[1:])]
            before = engine.stats.lines
            first = list(feed_buffers(engine, log_buffers(path, starts[0], ends[0])))
            yield from first
            offset = engine.stats.lines - before
            for future in others:
                part = future.result()
                for failure in part.failures:
                    yield dataclasses.replace(failure, lineno=failure.lineno + offset)
                offset += part.lines
                _merge_stats(engine.stats, part.stats)
                engine.dates.add_hits(part.date_hits)
    finally:
        _inherited = None

