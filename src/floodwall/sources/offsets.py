"""Where reading of each followed file stopped, so a restart neither re-reads nor skips."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

HEAD_BYTES = 128
"""How many leading bytes of a file identify its generation (see `Position.head`)."""


def head_digest(head: bytes) -> str:
    """The `Position.head` digest of a file's leading bytes."""
    return hashlib.blake2b(head[:HEAD_BYTES], digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Position:
    """How far one file has been read: the end of its last complete line."""

    inode: int
    """Inode of the file that was read; another inode at the path is another file."""
    offset: int
    """Byte offset just after the last complete line read."""
    lineno: int
    """Number of lines read so far in this generation of the file."""
    head: str
    """`head_digest` of the first min(offset, HEAD_BYTES) bytes: tells a recreated or
    truncated-and-regrown file apart from the one that was read."""


class OffsetStore(Protocol):
    """Keeps the read positions of followed files across restarts."""

    def load_positions(self) -> dict[str, Position]:
        """The positions saved last, by path."""
        ...

    def save_positions(self, positions: Mapping[str, Position]) -> None:
        """Replace the saved positions with `positions` (paths not in it are forgotten)."""
        ...


class MemoryOffsetStore:
    """An `OffsetStore` in memory that counts its saves; for tests."""

    def __init__(self, positions: Mapping[str, Position] | None = None) -> None:
        self.positions: dict[str, Position] = dict(positions or {})
        """The positions saved last, by path."""
        self.saves = 0
        """How many times `save_positions` was called."""

    def load_positions(self) -> dict[str, Position]:
        """A copy of the positions saved last."""
        return dict(self.positions)

    def save_positions(self, positions: Mapping[str, Position]) -> None:
        """Replace the saved positions."""
        self.positions = dict(positions)
        self.saves += 1
