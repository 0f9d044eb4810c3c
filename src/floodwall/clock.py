"""Injected time: the system clock for the daemon, a manual clock for tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Tells the current unix time."""

    def now(self) -> float:
        """Current unix time in seconds."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        """Current unix time in seconds."""
        return time.time()


class ManualClock:
    """A clock that only moves when told to: a test's, or a replay's (the logs' own time)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        """Current (manual) time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        self._now += seconds

    def set(self, when: float) -> None:
        """Jump to unix time `when`."""
        self._now = when
