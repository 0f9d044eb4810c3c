"""Where reading of each followed file stopped, so a restart neither re-reads nor skips."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol

from floodwall.model import Position

HEAD_BYTES = 128
"""How many leading bytes of a file identify its generation (see `model.Position.head`)."""


def head_digest(head: bytes) -> str:
    """The `Position.head` digest of a file's leading bytes."""
    return hashlib.blake2b(head[:HEAD_BYTES], digest_size=16).hexdigest()




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
