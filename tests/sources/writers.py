"""Log writers for the sources tests: numbered lines, logrotate's two ways of rotating."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from floodwall.model import SourceLine


def append(path: Path, data: bytes) -> None:
    """Append bytes to a file in one write, as a logging process does."""
    with open(path, "ab") as handle:
        handle.write(data)


def texts(lines: list[SourceLine]) -> list[str]:
    """The text of each line."""
    return [line.text for line in lines]


class NumberWriter(threading.Thread):
    """Appends numbered lines ("<n> xxx…") to a log in single writes, rotating it now and then.

    Writing never pauses; a rotation is only postponed until the reader has seen a line of
    the current generation (`seen`), as real rotations are far apart: a reader cannot
    follow a file through two renames it never had a chance to look at.
    """

    def __init__(self, path: Path, total: int, rotate_every: int,
                 rotate: Callable[[Path], None], reopen: bool) -> None:
        super().__init__(daemon=True)
        self.path, self.total, self.rotate_every = path, total, rotate_every
        self.rotate, self.reopen = rotate, reopen
        self.seen = 0
        """Highest number the reader has read (set by the reader)."""
        self.rotations = 0

    def run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        number, generation_start, next_rotation = 0, 1, self.rotate_every
        try:
            while number < self.total:
                number += 1
                os.write(fd, b"%d %s\n" % (number, b"x" * 40))
                if number % 50 == 0:
                    time.sleep(0)  # let the reader's thread run; pacing, not waiting
                due = next_rotation <= number < self.total  # the last line is never cut off
                if not due or self.seen < generation_start:
                    continue
                self.rotate(self.path)
                self.rotations += 1
                # as with logrotate, a few lines still reach the old file before reopening
                for _ in range(20):
                    if number < self.total:
                        number += 1
                        os.write(fd, b"%d %s\n" % (number, b"x" * 40))
                if self.reopen:
                    os.close(fd)
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                generation_start, next_rotation = number + 1, number + self.rotate_every
        finally:
            os.close(fd)


def numbers(lines: list[SourceLine]) -> list[int]:
    """The leading number of each line."""
    return [int(line.text.split()[0]) for line in lines]


def rename_rotation(path: Path) -> None:
    """logrotate's default: shift the old generations, rename the live file."""
    older = path.with_name(path.name + ".1")
    if older.exists():
        older.rename(path.with_name(path.name + ".2"))
    path.rename(older)


def copy_truncate(path: Path) -> None:
    """logrotate's copytruncate: copy the live file aside, then empty it in place."""
    shutil.copyfile(path, path.with_name(path.name + ".1"))
    os.truncate(path, 0)
