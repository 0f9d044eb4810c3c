"""Offline replay: old logs through the jails, by the logs' own clock, merged in time order."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from floodwall.addresses import Allowlist
from floodwall.bans.policy import BanPolicy
from floodwall.config.model import Config
from floodwall.matching.entries import Entry
from floodwall.model import Ban, Decision
from floodwall.pipeline import Pipeline
from floodwall.sources.reader import ReadProgress, read_lines

_EXPIRE_EVERY = 50_000
"""Entries between two releases of emptied windows."""
MERGE_MEMORY = 64 << 20
"""Read buffers of all files of a replay together stay around this size."""


@dataclass(frozen=True, slots=True)
class ReplayBan:
    """A ban the replay would have made."""

    ban: Ban
    decision: Decision


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
           stats: ReplayStats | None = None) -> list[ReplayBan]:
    """Feed logs through the jails in timestamp order; returns the bans that would be made.

    With `explicit`, every jail reads every given file and skips lines it cannot parse;
    otherwise each file goes to the jails whose logpath globs match it.
    """
    pipeline = Pipeline(config, every_jail_reads_every_file=explicit)
    policy = BanPolicy({j.name: j for j in config.enabled_jails()}, Allowlist(config.ignoreip))
    stats = stats if stats is not None else ReplayStats()
    stats.files = [ReadProgress() for _ in paths]
    for path in paths:
        try:
            stats.bytes_total += os.stat(path).st_size
        except OSError:
            pass
    # Every file is open at once for the merge: keep the memory of all readers bounded.
    chunk_bytes = max(64 * 1024, min(1 << 20, MERGE_MEMORY // max(len(paths), 1)))
    streams = [_entries(pipeline, path, index, config.max_line_bytes, stats.files[index],
                        chunk_bytes) for index, path in enumerate(paths)]
    banned_until: dict[tuple[str, str], float | None] = {}
    bans: list[ReplayBan] = []
    for count, (when, _, _, entry) in enumerate(heapq.merge(*streams), start=1):
        if count % _EXPIRE_EVERY == 0:
            pipeline.expire(when)
        for decision in pipeline.feed(entry):
            held = banned_until.get((decision.jail, decision.key), float("-inf"))
            if held is None or held > decision.time:
                continue  # still banned: in real life these lines would not have reached us
            ban = policy.ban_for(decision, decision.time)
            if ban is None:
                continue
            banned_until[(ban.jail, ban.key)] = ban.until
            result = ReplayBan(ban, decision)
            bans.append(result)
            if on_ban is not None:
                on_ban(result)
    return bans
