"""Offline replay: old logs through the jails, by the logs' own clock, merged in time order;
the jails' decisions go through the daemon's own ban path (bans/service.py), so a replay
bans as the daemon would have, escalation, recidive and prefix aggregation included."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from floodwall.addresses import Allowlist
from floodwall.bans.ledger import Ledger
from floodwall.bans.policy import BanPolicy
from floodwall.bans.service import BanService
from floodwall.clock import ManualClock
from floodwall.enforcement.ignorecommand import ignore_commands
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import FloodwallError
from floodwall.matching.accesslog import access_parser
from floodwall.matching.entries import Entry, EntryParser
from floodwall.model import Ban, Decision
from floodwall.pipeline import Pipeline
from floodwall.settings.values import Config
from floodwall.sources.reader import ReadProgress, read_lines
from floodwall.storage.database import IN_MEMORY, Database

_EXPIRE_EVERY = 50_000
"""Entries between two releases of emptied windows."""
MERGE_MEMORY = 64 << 20
"""Read buffers of all files of a replay together stay around this size."""

Place = tuple[float, int, int]
"""Where an entry is in the merge of the files: (time, file index, line number)."""
Found = list[tuple[Place, list[Decision]]]
"""The decisions of some jails, each entry's with its place, in the order of the merge."""


@dataclass(frozen=True, slots=True)
class ReplayBan:
    """A ban the replay would have made."""

    ban: Ban
    decision: Decision | None
    """The decision that earned it; None for a ban the rules added (a prefix, recidive)."""


@dataclass(slots=True)
class ReplayStats:
    """What a replay has read so far (safe to read from another thread)."""

    bytes_total: int = 0
    files: list[ReadProgress] = field(default_factory=list)

    @property
    def lines(self) -> int:
        """Lines read, over all files."""
        return sum(progress.lines for progress in self.files)

    @property
    def bytes_read(self) -> int:
        """Bytes read, over all files."""
        return sum(progress.bytes for progress in self.files)


class _ReplayBans:
    """The ban path of a replay: the daemon's, on a ledger in memory and a recording
    firewall, its clock at the time of each decision."""

    def __init__(self, config: Config, on_ban: Callable[[ReplayBan], None] | None = None
                 ) -> None:
        jails = config.enabled_jails()
        self._database = Database(IN_MEMORY)
        policy = BanPolicy({j.name: j for j in jails}, Allowlist(config.ignoreip),
                           ignore_checks=ignore_commands(jails),
                           history=self._database.count_bans, history_seconds=config.history)
        self._clock = ManualClock(0.0)
        self._service = BanService(config, Ledger(self._database), policy, RecordingEnforcer(),
                                   self._clock)
        self._service.rebuild_firewall()
        self._on_ban = on_ban
        self.made: list[ReplayBan] = []
        """The bans made so far, in the order they were made."""

    def take(self, decisions: Iterable[Decision]) -> None:
        """Ban as the daemon would have at the time of each decision (given in time order)."""
        for decision in decisions:
            now = decision.time
            self._clock.set(now)
            self._service.expire(now)
            for ban in self._service.decide([decision], now):
                earned = (ban.jail, ban.key) == (decision.jail, decision.key)
                made = ReplayBan(ban, decision if earned else None)
                self.made.append(made)
                if self._on_ban is not None:
                    self._on_ban(made)

    def close(self) -> None:
        """Let the ledger go."""
        self._database.close()


def _entries(pipeline: Pipeline, path: str, index: int, max_line_bytes: int,
             progress: ReadProgress, chunk_bytes: int
             ) -> Iterator[tuple[float, int, int, Entry]]:
    """(time, file index, line number, entry) for each line that may matter (the prefilter
    drops the others unparsed: they cannot change any window); dateless lines keep the last
    time."""
    try:
        now = os.stat(path).st_mtime
    except OSError:
        now = 0.0
    last = float("-inf")
    prefilter = pipeline.prefilter(path)
    for line in read_lines(path, max_line_bytes=max_line_bytes, progress=progress,
                           select=None if prefilter.passes_everything else prefilter.spans,
                           chunk_bytes=chunk_bytes):
        entry = pipeline.parse(line, now)
        if entry.time is not None:
            last = entry.time
        yield (last, index, line.lineno, entry)


def replay(config: Config, paths: Sequence[str], *, explicit: bool = True,
           on_ban: Callable[[ReplayBan], None] | None = None,
           stats: ReplayStats | None = None, workers: int | None = None) -> list[ReplayBan]:
    """Feed logs through the jails in timestamp order; returns the bans that would have been
    made, by time (then jail and key), and hands each to `on_ban` as it is made.

    With `explicit`, every jail reads every given file and skips lines it cannot parse;
    otherwise each file goes to the jails whose logpath globs match it. When there are
    jails to split, two halves of them count in two processes (`workers`, default: one per
    core, at most 2; see `_halves`) and this one makes the bans; they are the same.
    """
    stats = stats if stats is not None else ReplayStats()
    stats.files = [ReadProgress() for _ in paths]
    for path in paths:
        with contextlib.suppress(OSError):
            stats.bytes_total += os.stat(path).st_size
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    halves = _halves(config, paths, explicit) if workers > 1 else None
    bans = _ReplayBans(config, on_ban)
    try:
        if halves is None:
            _count(config, list(enumerate(paths)), explicit, stats.files,
                   lambda _, decisions: bans.take(decisions))
        else:
            rank = {jail.name: n for n, jail in enumerate(config.enabled_jails())}
            for decisions in _merged(_count_in_halves(config, paths, explicit, halves, stats),
                                     rank):
                bans.take(decisions)
    finally:
        bans.close()
    return sorted(bans.made, key=lambda made: (made.ban.start, made.ban.jail, made.ban.key))


def _count(config: Config, files: Sequence[tuple[int, str]], explicit: bool,
           progress: list[ReadProgress], found: Callable[[Place, list[Decision]], None]
           ) -> None:
    """Count the (file index, path) files through the jails, merged in time order; hands each
    entry's decisions to `found` with the entry's place."""
    pipeline = Pipeline(config, every_jail_reads_every_file=explicit)
    # Every file is open at once for the merge: keep the memory of all readers bounded.
    chunk_bytes = max(64 * 1024, min(1 << 20, MERGE_MEMORY // max(len(files), 1)))
    streams = [_entries(pipeline, path, index, config.max_line_bytes, reading, chunk_bytes)
               for (index, path), reading in zip(files, progress, strict=True)]
    with pipeline.deadline.armed():
        for count, (when, index, lineno, entry) in enumerate(heapq.merge(*streams), start=1):
            if count % _EXPIRE_EVERY == 0:
                pipeline.expire(when)
            decisions = pipeline.feed(entry)
            if decisions:
                found((when, index, lineno), decisions)


def _merged(parts: Sequence[Found], rank: dict[str, int]) -> Iterator[list[Decision]]:
    """Each entry's decisions from every part, entries in time order and decisions in the
    order one process feeds its jails (the configuration's)."""
    merged = heapq.merge(*parts, key=lambda item: item[0])
    for _, group in itertools.groupby(merged, key=lambda item: item[0]):
        decisions = [decision for _, some in group for decision in some]
        yield sorted(decisions, key=lambda decision: rank[decision.jail])


def _count_in_halves(config: Config, paths: Sequence[str], explicit: bool,
                     halves: list[tuple[list[str], tuple[str, ...]]], stats: ReplayStats
                     ) -> list[Found]:
    """The decisions of each half, counted in a process of its own (progress into `stats`)."""
    context = multiprocessing.get_context("fork")
    position = {path: index for index, path in enumerate(paths)}
    shared = [context.Array("q", 2 * len(part)) for part, _ in halves]
    channels = [context.Pipe(duplex=False) for _ in halves]
    processes = [context.Process(target=_count_part, daemon=True,
                                 args=(config, [(position[path], path) for path in part], jails,
                                       explicit, counters, sender))
                 for (part, jails), counters, (_, sender) in zip(halves, shared, channels,
                                                                strict=True)]
    for process in processes:
        process.start()
    results: list[Found | BaseException | None] = [None] * len(processes)
    try:
        while any(result is None for result in results):
            for index, (receiver, _) in enumerate(channels):
                if results[index] is None and receiver.poll(0.1):
                    results[index] = receiver.recv()
            _copy_progress(halves, shared, paths, stats)
            for index, process in enumerate(processes):
                if results[index] is None and not process.is_alive() and not (
                        channels[index][0].poll()):
                    raise FloodwallError(f"replay worker {index + 1} died "
                                         f"(exit code {process.exitcode})")
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    _copy_progress(halves, shared, paths, stats)
    return [result for result in results if isinstance(result, list)]


FAIL2BAN_COST = 4.0
"""How much more a fail2ban filter costs per byte than a native jail (which shares one parse
of the line with every jail of its file): the weight that balances the halves."""


def _halves(config: Config, paths: Sequence[str], explicit: bool
            ) -> list[tuple[list[str], tuple[str, ...]]] | None:
    """The jails in two halves balanced by the work they do, with the files each half reads
    (in the given order); None if that cannot be done. A jail's decisions depend on its own
    lines only (a ban resets the count of its own jail alone, which the crossing that made
    it already did), and a file read in both halves gives each the same lines in the same
    order: the halves' decisions merged by place are those of one process, and so are the
    bans the parent makes of them.

    Native jails that read the same file stay together (they share its parse); each fail2ban
    filter jail, whose cost is its own regexes, may go alone. With `explicit` every jail
    reads every file, except that a native jail skips the files plainly of the other kind
    (access logs for a syslog jail and the reverse).
    """
    pipeline = Pipeline(config, every_jail_reads_every_file=explicit)
    kinds: dict[str, str | None] = {}
    if explicit and any(jail.filter.requires is not None for jail in pipeline.jails.values()):
        probe = EntryParser([access_parser("auto")], syslog=True)
        kinds = {path: _kind_of(path, probe) for path in paths}
    units: list[tuple[set[str], set[str], float]] = []  # (jails, files, weight)
    native: list[tuple[set[str], set[str]]] = []  # connected by the files they share
    for name, jail in pipeline.jails.items():
        requires = jail.filter.requires
        files = {path for path in paths if jail in pipeline.jails_for(path)
                 and (requires is None or kinds.get(path) in (None, requires))}
        if not files:
            continue
        if requires is None:
            units.append(({name}, files, FAIL2BAN_COST * sum(_size(f) for f in files)))
            continue
        merged = ({name}, files)
        for group in [group for group in native if group[1] & files]:
            native.remove(group)
            merged[0].update(group[0])
            merged[1].update(group[1])
        native.append(merged)
    units += [(jails, files, float(sum(_size(f) for f in files))) for jails, files in native]
    if len(units) < 2:
        return None
    halves: list[tuple[set[str], set[str], float]] = [(set(), set(), 0.0), (set(), set(), 0.0)]
    for jails, files, weight in sorted(units, key=lambda unit: (-unit[2], sorted(unit[0]))):
        lighter = min(range(2), key=lambda i: halves[i][2])
        old = halves[lighter]
        halves[lighter] = (old[0] | jails, old[1] | files, old[2] + weight)
    unread = set(paths) - halves[0][1] - halves[1][1]  # read for the line counts all the same
    halves[1][1].update(unread)
    return [([path for path in paths if path in files], tuple(sorted(jails)))
            for jails, files, _ in halves]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _kind_of(path: str, probe: EntryParser, sample: int = 50) -> str | None:
    """'access' or 'syslog' if the file's first lines are all one of them, else None."""
    seen: set[str] = set()
    for number, line in enumerate(read_lines(path, chunk_bytes=64 * 1024)):
        if number >= sample:
            break
        entry = probe.parse(line, 0.0)
        seen.add("access" if entry.access else "syslog" if entry.syslog else "other")
    return seen.pop() if len(seen) == 1 and "other" not in seen else None


def _count_part(config: Config, files: list[tuple[int, str]], jails: tuple[str, ...],
                explicit: bool, counters: Any, sender: Any) -> None:
    """A worker: some (file index, path) files through some jails; sends back their decisions
    (or the error), reporting its progress into `counters` meanwhile."""
    part = replace(config, jails=tuple(j for j in config.jails if j.name in jails))
    progress = [ReadProgress() for _ in files]
    done = threading.Event()

    def report() -> None:
        while not done.wait(0.2):
            _store(progress, counters)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    found: Found = []
    result: Found | BaseException = found
    try:
        _count(part, files, explicit, progress,
               lambda place, decisions: found.append((place, decisions)))
    except Exception as problem:  # noqa: BLE001 - any failure is handed to the parent to raise
        result = problem
    done.set()
    reporter.join()
    _store(progress, counters)
    sender.send(result)
    sender.close()


def _store(progress: list[ReadProgress], counters: Any) -> None:
    for index, item in enumerate(progress):
        counters[2 * index], counters[2 * index + 1] = item.bytes, item.lines


def _copy_progress(halves: list[tuple[list[str], tuple[str, ...]]], shared: list[Any],
                   paths: Sequence[str], stats: ReplayStats) -> None:
    """Each file's progress: the least of the halves that read it (both read it all)."""
    position = {path: index for index, path in enumerate(paths)}
    seen: dict[str, tuple[int, int]] = {}
    for (part, _), counters in zip(halves, shared, strict=True):
        for index, path in enumerate(part):
            read = (counters[2 * index], counters[2 * index + 1])
            seen[path] = min(seen.get(path, read), read)
    for path, (done, lines) in seen.items():
        target = stats.files[position[path]]
        target.bytes, target.lines = done, lines
