"""Sliding windows per key: `maxretry` failures within `findtime` seconds make a decision."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator

from floodwall.model import Failure


class SlidingWindows:
    """Per-key failure windows; a key's memory is released as soon as its window empties.

    A failure at time t counts in the window (t - findtime, t] of the newest failure of its
    key. Failures may arrive slightly out of order (several files); they are kept sorted.
    """

    def __init__(self, maxretry: int, findtime: float) -> None:
        self.maxretry = maxretry
        self.findtime = findtime
        self._windows: dict[str, list[tuple[float, int, Failure]]] = {}
        self._seq = 0

    def add(self, failure: Failure) -> tuple[Failure, ...] | None:
        """Count a failure; returns the window's failures when it reaches maxretry (and resets)."""
        window = self._windows.get(failure.key)
        self._seq += 1
        entry = (failure.time, self._seq, failure)
        if window is None:
            window = self._windows[failure.key] = [entry]
        elif failure.time >= window[-1][0]:
            window.append(entry)
        else:
            insort(window, entry)
        horizon = window[-1][0] - self.findtime
        if window[0][0] <= horizon:
            drop = 0
            while drop < len(window) and window[drop][0] <= horizon:
                drop += 1
            del window[:drop]
        if len(window) >= self.maxretry:
            del self._windows[failure.key]
            return tuple(item[2] for item in window)
        return None

    def count(self, key: str) -> int:
        """Failures currently in the key's window."""
        return len(self._windows.get(key, ()))

    def forget(self, key: str) -> None:
        """Drop a key's window (it was banned by other means)."""
        self._windows.pop(key, None)

    def expire(self, now: float) -> int:
        """Release every key whose newest failure is older than findtime; returns how many."""
        horizon = now - self.findtime
        stale = [key for key, window in self._windows.items() if window[-1][0] <= horizon]
        for key in stale:
            del self._windows[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._windows)

    def keys(self) -> Iterator[str]:
        """Keys that have a non-empty window."""
        return iter(self._windows)
