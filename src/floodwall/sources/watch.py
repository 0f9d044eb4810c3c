"""Follows every file matching glob patterns, woken by inotify on writes and renames."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from inotify_simple import INotify, flags  # type: ignore[import-untyped]

from floodwall.model import Position, SourceLine
from floodwall.sources.follow import FileFollower
from floodwall.sources.offsets import OffsetStore

log = logging.getLogger("floodwall.sources")

_MAGIC = re.compile(r"[*?[]")
_WATCH_MASK = int(flags.CREATE | flags.MOVED_TO | flags.MOVED_FROM | flags.DELETE | flags.MODIFY
                  | flags.ATTRIB | flags.DELETE_SELF | flags.MOVE_SELF | flags.ONLYDIR)
_NAME_CHANGES = int(flags.CREATE | flags.MOVED_TO | flags.MOVED_FROM | flags.DELETE)
_SELF_CHANGES = int(flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED | flags.UNMOUNT)
_OVERFLOW = int(flags.Q_OVERFLOW)
# Shortest wait between two passes, so that a follower whose grace cannot end (its path
# keeps failing) does not spin the loop.
BATCH_BYTES = 8 << 20
"""How much one batch reads of a file at most: a long catch-up (a big log unread since the
last run) goes through in batches of bounded memory instead of all at once."""
_MIN_WAIT = 0.05


class GlobWatcher:
    """Follows every file matching the patterns, including files and directories made later.

    Each directory that could hold a match (the static parent of a pattern and every
    directory matching a leading part of it) is watched with inotify; a file appearing
    while running is read from its start. `rescan_interval` seconds (None: never) is a
    safety net for lost events; an inotify queue overflow rescans at once. Relative
    patterns are made absolute, and so are the paths of the lines.
    """

    def __init__(self, patterns: Sequence[str], store: OffsetStore, *,
                 start_at_end: bool = True, max_line_bytes: int = 65536,
                 rotate_grace: float = 5.0, rescan_interval: float | None = 60.0,
                 batch_bytes: int = BATCH_BYTES) -> None:
        self._patterns = [os.path.abspath(pattern) for pattern in patterns]
        self._store = store
        self._start_at_end = start_at_end
        self._max_line_bytes = max_line_bytes
        self._rotate_grace = rotate_grace
        self._rescan_interval = rescan_interval
        self._batch_bytes = batch_bytes
        self._backlog: set[str] = set()  # followers whose last read stopped at the budget
        self._next_rescan = time.monotonic() + (rescan_interval or 0.0)
        self._inotify = INotify()
        self._watches: dict[str, int] = {}  # directory -> its watch descriptor
        self._dirs_of: dict[int, set[str]] = {}  # watch descriptor -> directories (aliases)
        self._names: dict[str, set[str]] = {}  # directory -> patterns of the names that matter
        self._followers: dict[str, FileFollower] = {}
        self._rotating: set[str] = set()  # followers waiting out a rotation grace
        self._watch_warned = False
        self._alias_warned = False
        self._rescan(saved=store.load_positions())

    def read_available(self) -> list[SourceLine]:
        """The complete new lines of every followed file, about `batch_bytes` of each at
        most, so a long catch-up is read in batches of bounded memory (see `backlog`)."""
        return self._read(list(self._followers))

    @property
    def backlog(self) -> bool:
        """Whether some file has more to read right now than the last batch took."""
        return bool(self._backlog)

    async def batches(self) -> AsyncGenerator[list[SourceLine], None]:
        """Forever: the new lines, in non-empty batches, as inotify reports changes."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(self._inotify.fd, ready.set)
        try:
            lines = self.read_available()
            while True:
                if lines:
                    yield lines
                if self._backlog:
                    await asyncio.sleep(0)  # catching up: let the other tasks run between batches
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ready.wait(), self._timeout())
                    ready.clear()
                lines = self._step()
        finally:
            loop.remove_reader(self._inotify.fd)

    def files(self) -> list[str]:
        """Paths currently followed."""
        return sorted(self._followers)

    def checkpoint(self) -> None:
        """Save the position of every followed file in the store."""
        positions = {path: position for path, follower in self._followers.items()
                     if (position := follower.position()) is not None}
        self._store.save_positions(positions)

    def close(self) -> None:
        """Close every file and the inotify instance."""
        for follower in self._followers.values():
            follower.close()
        self._inotify.close()

    def _step(self) -> list[SourceLine]:
        """Handle the queued events and due timers; the lines they made available."""
        dirty, rescan, everything = self._collect_events()
        dirty |= self._backlog
        now = time.monotonic()
        if self._rescan_interval is not None and now >= self._next_rescan:
            everything = True
        if rescan or everything:
            dirty |= self._rescan()
        if everything:
            self._next_rescan = now + (self._rescan_interval or 0.0)
            dirty = set(self._followers)
        for path in self._rotating:
            wake = self._followers[path].wake_at()
            if wake is not None and wake <= now:
                dirty.add(path)
        return self._read(sorted(dirty))

    def _collect_events(self) -> tuple[set[str], bool, bool]:
        """Drain inotify: followers to read, whether to rescan, whether to read everything."""
        dirty: set[str] = set()
        rescan = everything = False
        # A busy log writes one event per write(): the same (watch, mask, name) repeats
        # thousands of times per batch, and one of each says all there is to say.
        for wd, mask, _, name in dict.fromkeys(self._inotify.read(timeout=0)):
            if mask & _OVERFLOW:
                log.warning("inotify queue overflowed: rescanning and reading every source")
                everything = True
                continue
            directories = self._dirs_of.get(wd)
            if directories is None:
                continue
            if mask & _SELF_CHANGES:
                self._forget(wd)
                rescan = True
                continue
            if not name:
                continue
            for directory in directories:
                path = os.path.join(directory, name)
                if path in self._followers:
                    dirty.add(path)
                else:  # maybe a rotated file still being written under its new name
                    dirty.update(p for p in self._rotating if os.path.dirname(p) == directory)
                if mask & _NAME_CHANGES and any(
                        fnmatchcase(name, part) for part in self._names.get(directory, ())):
                    rescan = True
        return dirty, rescan, everything

    def _rescan(self, saved: Mapping[str, Position] | None = None) -> set[str]:
        """Match the patterns again, watch what could match, follow new files; returns them.

        `saved` is given only at start: then files start at their saved position or per
        `start_at_end`; files found later start at 0.
        """
        names: dict[str, set[str]] = {}
        matched: set[str] = set()
        for pattern in self._patterns:
            self._scan(pattern, names, matched)
        for directory in set(self._watches) - set(names):
            self._unwatch(directory)
        self._names = names
        new = matched - set(self._followers)
        followed = {identity for follower in self._followers.values()
                    if (identity := follower.identity) is not None}
        for path in sorted(new):
            identity = _identity(path)
            if identity is not None and identity in followed:
                # Another path (a symlink, a hard link, a bind mount) to a file already
                # followed: its lines must count once, or a tenant who can make links in
                # their logs/ folder could get anyone banned.
                if not self._alias_warned:
                    log.warning("%s is the same file as one already followed (a link); it is "
                                "read once, through the first path", path)
                    self._alias_warned = True
                continue
            if identity is not None:
                followed.add(identity)
            self._followers[path] = FileFollower(
                path, position=saved.get(path) if saved is not None else None,
                start_at_end=self._start_at_end and saved is not None,
                max_line_bytes=self._max_line_bytes, rotate_grace=self._rotate_grace)
        for path, follower in list(self._followers.items()):
            if path not in matched and not follower.is_open:
                self._drop(path)
        return new

    def _scan(self, pattern: str, names: dict[str, set[str]], matched: set[str]) -> None:
        """Watch the directories that could hold matches of `pattern`, collect its files.

        Each level is listed after its directories are watched, so that nothing created
        in between goes unseen.
        """
        parts = pattern.split(os.sep)[1:]
        start = 0
        while start < len(parts) - 1 and not _MAGIC.search(parts[start]):
            start += 1
        base = os.sep + os.sep.join(parts[:start])
        while start > 0 and not os.path.isdir(base):  # watch for the static parent to appear
            start -= 1
            base = os.path.dirname(base)
        level = [base]
        for depth in range(start, len(parts)):
            part, last = parts[depth], depth == len(parts) - 1
            below: list[str] = []
            for directory in level:
                names.setdefault(directory, set()).add(part)
                self._watch(directory)
                for match in glob.glob(os.path.join(glob.escape(directory), part)):
                    is_dir = os.path.isdir(match)
                    if last and not is_dir:
                        matched.add(match)
                    elif not last and is_dir:
                        below.append(match)
            level = below

    def _watch(self, directory: str) -> None:
        if directory in self._watches:
            return
        try:
            wd = self._inotify.add_watch(directory, _WATCH_MASK)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as error:
            if not self._watch_warned:
                log.warning("cannot watch %s (%s): new lines there are seen only at the next "
                            "rescan; raise the sysctl fs.inotify.max_user_watches if it is "
                            "the limit", directory, error)
                self._watch_warned = True
            return
        self._watches[directory] = wd
        self._dirs_of.setdefault(wd, set()).add(directory)

    def _unwatch(self, directory: str) -> None:
        wd = self._watches.pop(directory)
        aliases = self._dirs_of.get(wd, set())
        aliases.discard(directory)
        if not aliases:
            self._forget(wd)

    def _forget(self, wd: int) -> None:
        """Stop watching (the directory moved, vanished or is no longer wanted)."""
        for directory in self._dirs_of.pop(wd, ()):
            self._watches.pop(directory, None)
        with contextlib.suppress(OSError):  # the kernel already removed it (directory deleted)
            self._inotify.rm_watch(wd)

    def _read(self, paths: Iterable[str]) -> list[SourceLine]:
        lines: list[SourceLine] = []
        for path in paths:
            follower = self._followers.get(path)
            if follower is None:
                continue
            lines.extend(follower.read_lines(self._batch_bytes))
            if follower.has_more:
                self._backlog.add(path)
            else:
                self._backlog.discard(path)
            if follower.wake_at() is None:
                self._rotating.discard(path)
            else:
                self._rotating.add(path)
            if not follower.is_open and not os.path.lexists(path):
                self._drop(path)
        return lines

    def _drop(self, path: str) -> None:
        self._followers.pop(path).close()
        self._rotating.discard(path)
        self._backlog.discard(path)

    def _timeout(self) -> float | None:
        """Seconds until the next timer (rotation grace or rescan) is due; None: no timer."""
        wakes = [wake for path in self._rotating
                 if (wake := self._followers[path].wake_at()) is not None]
        if self._rescan_interval is not None:
            wakes.append(self._next_rescan)
        if not wakes:
            return None
        return max(_MIN_WAIT, min(wakes) - time.monotonic())


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file a path leads to (through links); None if unreadable."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
