"""Follows one log file: its new complete lines, across rotation by rename and truncation."""

from __future__ import annotations

import logging
import os
import stat
import time
from itertools import repeat

from floodwall.errors import SourceError
from floodwall.model import Position, SourceLine
from floodwall.sources.offsets import HEAD_BYTES, head_digest

log = logging.getLogger("floodwall.sources")

_CHUNK = 1 << 20
# O_NONBLOCK: opening a FIFO that matched a pattern must not hang the daemon.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


class FileFollower:
    """Reads the complete lines appended to one path, across rotation and truncation.

    The first file opened starts at `position` when it is still the same file, else at
    its end (`start_at_end`) or at 0; every file that appears at the path later starts
    at 0. After a rename, the old file is read to its end until the new file has data or
    `rotate_grace` seconds pass, then its unterminated last line (if any) is returned too.
    """

    def __init__(self, path: str, *, position: Position | None, start_at_end: bool,
                 max_line_bytes: int = 65536, rotate_grace: float = 5.0) -> None:
        self.path = path
        """The path followed, as given."""
        self._max = max_line_bytes
        self._grace = rotate_grace
        # How the first generation opened starts; later generations start at 0.
        self._resume = position
        self._at_end = start_at_end
        self._fd: int | None = None
        self._identity = (0, 0)  # (st_dev, st_ino) of the open file
        self._offset = 0  # just after the last complete line
        self._read_pos = 0  # next byte to read; _pending holds the bytes in between
        self._lineno = 0
        self._pending = b""
        self._discarding = False  # _pending was cut at max_line_bytes: drop up to its newline
        self._head = b""  # the file's bytes [0, min(_read_pos, HEAD_BYTES))
        self._rotated_since: float | None = None
        self._backlog: list[str] = []  # generations rotated away unread, oldest first
        self._io_warned = False
        self._long_warned = False
        self.has_more = False
        """The last read_lines stopped at its byte budget: more is waiting now."""
        try:
            self._open()
        except (OSError, SourceError) as error:
            self._warn_io(error)

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the open file; None while none is open."""
        return self._identity if self._fd is not None else None

    @property
    def is_open(self) -> bool:
        """Whether a file is open (False while the path is missing or unreadable)."""
        return self._fd is not None

    def read_lines(self, budget: int | None = None) -> list[SourceLine]:
        """The complete new lines now available, from about `budget` bytes at most (None: all;
        `has_more` tells whether the budget left some); I/O trouble is logged once, retried
        later."""
        lines: list[SourceLine] = []
        self.has_more = False
        try:
            if self._fd is None and not self._open():
                return lines
            if self._drain(lines, budget):
                return lines
            while self._should_switch():
                # what the writer added before it moved to the new file
                if self._drain(lines, budget):
                    return lines
                self._close_generation(lines)
                if not self._open() or self._drain(lines, budget):
                    break
        except (OSError, SourceError) as error:
            self._warn_io(error)
        return lines

    def position(self) -> Position | None:
        """Where reading stands; None before any file was found at the path."""
        if self._fd is None:
            return self._resume
        return Position(inode=self._identity[1], offset=self._offset, lineno=self._lineno,
                        head=head_digest(self._head[:self._offset]))

    def wake_at(self) -> float | None:
        """Monotonic time at which `read_lines` must run even without news (rotation grace)."""
        if self._rotated_since is None:
            return None
        return self._rotated_since + self._grace

    def close(self) -> None:
        """Close the open file, if any."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> bool:
        target = self.path
        if self._resume is not None:  # the first file: the one read before, if rotated away
            target = self._rotated_away(self._resume) or target
        while self._backlog and target == self.path:
            candidate = self._backlog.pop(0)
            if os.path.isfile(candidate):
                log.info("%s: reading %s first, a generation rotated away before it was read",
                         self.path, candidate)
                target = candidate
        try:
            fd = os.open(target, _OPEN_FLAGS)
        except FileNotFoundError:
            self._resume, self._at_end = None, False  # when it appears, all of it is new
            return False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"{self.path} is not a regular file; "
                                  "make the source pattern match log files only")
            start, lineno = self._start(fd, info)
            head = os.pread(fd, min(start, HEAD_BYTES), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._identity = (info.st_dev, info.st_ino)
        self._offset = self._read_pos = start
        self._lineno = lineno
        self._pending, self._discarding, self._head = b"", False, head
        self._rotated_since = None
        self._resume, self._at_end = None, False
        if self._io_warned:
            log.info("%s: readable again", self.path)
            self._io_warned = False
        return True

    def _rotated_away(self, saved: Position) -> str | None:
        """The file read before the stop, found by its inode beside the path when a rotation
        renamed it while floodwall was stopped (its unread tail comes first); None if the
        path still holds it or it is gone."""
        try:
            if os.stat(self.path).st_ino == saved.inode:
                return None
        except FileNotFoundError:
            pass
        try:
            with os.scandir(os.path.dirname(self.path) or ".") as entries:
                for entry in entries:
                    if (entry.inode() == saved.inode and entry.path != self.path
                            and entry.is_file(follow_symlinks=False)
                            and _is_generation(entry.path, saved)):
                        log.info("%s was rotated while stopped: reading the rest of %s first",
                                 self.path, entry.path)
                        return entry.path
        except OSError:
            pass
        return None

    def _start(self, fd: int, info: os.stat_result) -> tuple[int, int]:
        """Offset and line count to start a newly opened file at."""
        saved = self._resume
        if saved is not None:
            if (info.st_ino == saved.inode and info.st_size >= saved.offset
                    and head_digest(os.pread(fd, min(saved.offset, HEAD_BYTES), 0)) == saved.head):
                return saved.offset, saved.lineno
            log.info("%s was rotated or truncated while stopped: reading it from the start",
                     self.path)
            return 0, 0
        if self._at_end:
            return _end_of_last_line(fd, info.st_size)
        return 0, 0

    def _drain(self, lines: list[SourceLine], budget: int | None = None) -> bool:
        """Read the open file up to the size it has now, or until `budget` bytes are read
        (then True, and has_more is set)."""
        fd = self._fd
        assert fd is not None
        size = os.fstat(fd).st_size
        read = 0
        while True:
            if size < self._read_pos:
                self._restart()
            if self._read_pos >= size:
                return False
            if budget is not None and read >= budget:
                self.has_more = True
                return True
            want = min(_CHUNK, size - self._read_pos)
            if budget is not None:
                want = min(want, budget - read)
            chunk = os.pread(fd, want, self._read_pos)
            # Checked after the read: a copytruncate that regrew the file past our offset
            # before (or while) we read would otherwise hand us a piece of the new content.
            if self._head and os.pread(fd, len(self._head), 0) != self._head:
                self._restart()
                size = os.fstat(fd).st_size
                continue
            if not chunk:
                return False
            read += len(chunk)
            self._consume(chunk, lines)

    def _restart(self) -> None:
        log.info("%s was truncated: reading it from the start", self.path)
        self._offset = self._read_pos = self._lineno = 0
        self._pending, self._discarding, self._head = b"", False, b""

    def _consume(self, chunk: bytes, lines: list[SourceLine]) -> None:
        base = self._read_pos
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[:HEAD_BYTES - len(self._head)]
        self._read_pos = base + len(chunk)
        last = chunk.rfind(b"\n")
        if last < 0:
            self._hold(chunk)
            return
        pieces = chunk[:last].split(b"\n")
        if self._discarding:
            pieces[0] = self._pending
        elif self._pending:
            pieces[0] = self._pending + pieces[0]
        self._pending, self._discarding = b"", False
        self._emit(pieces, lines)
        self._offset = base + last + 1
        self._hold(chunk[last + 1:])

    def _hold(self, data: bytes) -> None:
        """Keep the start of an unterminated line, at most max_line_bytes of it."""
        if self._discarding or not data:
            return
        self._pending += data
        if len(self._pending) > self._max:
            self._pending = self._pending[:self._max]
            self._discarding = True
            self._warn_long(self._lineno + 1)

    def _emit(self, pieces: list[bytes], lines: list[SourceLine]) -> None:
        limit, first = self._max, self._lineno + 1
        if max(map(len, pieces)) > limit:
            self._warn_long(first + next(i for i, raw in enumerate(pieces) if len(raw) > limit))
            pieces = [raw[:limit] for raw in pieces]
        texts = [raw.removesuffix(b"\r").decode("utf-8", "replace") for raw in pieces]
        lines.extend(map(SourceLine, repeat(self.path), range(first, first + len(texts)), texts))
        self._lineno += len(texts)

    def _should_switch(self) -> bool:
        """Whether the path now names another file (or none) and the open one is done."""
        try:
            info: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            info = None
        if info is not None and (info.st_dev, info.st_ino) == self._identity:
            self._rotated_since = None
            return False
        now = time.monotonic()
        if self._rotated_since is None:
            self._rotated_since = now
        return (info is not None and info.st_size > 0) or now - self._rotated_since >= self._grace

    def _close_generation(self, lines: list[SourceLine]) -> None:
        """Finish the open file: nothing more will be appended to its last line. Generations
        rotated away after it without being read (two rotations while floodwall was stopped
        or behind) are read next, oldest first."""
        if self._pending:
            self._emit([self._pending], lines)
            self._pending, self._discarding = b"", False
        self._rotated_since = None
        assert self._fd is not None
        finished = os.fstat(self._fd)
        self.close()
        self._backlog = _newer_generations(self.path, finished)

    def _warn_io(self, error: Exception) -> None:
        if not self._io_warned:
            log.warning("%s: cannot read (%s); the other sources go on and this one is "
                        "retried on its next change: make it a readable regular file",
                        self.path, error)
            self._io_warned = True

    def _warn_long(self, lineno: int) -> None:
        if not self._long_warned:
            log.warning("%s:%d: line longer than max_line_bytes=%d was cut to that length "
                        "(further long lines in this file are cut silently)",
                        self.path, lineno, self._max)
            self._long_warned = True


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z")


def _newer_generations(path: str, finished: os.stat_result) -> list[str]:
    """Rotated generations of `path` (`NAME.1`, `NAME-20261204`… beside it, not compressed)
    written to after the `finished` file last was, other than the file at `path`: the ones
    rotated away after it unread; oldest first. Strictly later, so none read before it
    (older ones) comes back."""
    directory, name = os.path.split(path)
    try:
        current = os.stat(path).st_ino
    except FileNotFoundError:
        current = None
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(directory or ".") as entries:
            for entry in entries:
                if not entry.name.startswith((name + ".", name + "-")) or entry.name.endswith(
                        _COMPRESSED) or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                if (info.st_ino not in (current, finished.st_ino)
                        and info.st_mtime_ns > finished.st_mtime_ns):
                    found.append((info.st_mtime_ns, entry.path))
    except OSError:
        return []
    return [found_path for _, found_path in sorted(found)]


def _is_generation(path: str, saved: Position) -> bool:
    """Whether the file at `path` is the one `saved` was read from (size and head agree)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        return (os.fstat(fd).st_size >= saved.offset and head_digest(
            os.pread(fd, min(saved.offset, HEAD_BYTES), 0)) == saved.head)
    finally:
        os.close(fd)


def _end_of_last_line(fd: int, size: int) -> tuple[int, int]:
    """Offset just after the last newline before `size`, and the number of lines before it."""
    count, last, pos = 0, -1, 0
    while pos < size:
        chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
        if not chunk:
            break
        newlines = chunk.count(b"\n")
        if newlines:
            count += newlines
            last = pos + chunk.rindex(b"\n")
        pos += len(chunk)
    return last + 1, count
