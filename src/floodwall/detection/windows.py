"""Sliding windows per key: `maxretry` failures within `findtime` seconds make a decision."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter

from floodwall.model import Failure

EVICTION_BATCH = 1 / 16
"""Share of `max_keys` released at once when the limit is passed (amortises the scan)."""
EVICTION_SCAN = 4
"""Keys looked at per key evicted: among the oldest that many, the lowest counts go first."""

_by_time = attrgetter("time")


@dataclass(frozen=True, slots=True)
class Crossing:
    """A key that reached maxretry: how many failures its window held, and the evidence."""

    count: int
    """Failures in the window when it crossed (== maxretry)."""
    failures: tuple[Failure, ...]
    """The failures kept as evidence, oldest first: the newest `count - keep_from + 1`."""


class SlidingWindows:
    """Per-key failure windows in compact form; a key's memory goes as its window empties.

    A failure at time t counts in the window (t - findtime, t] of the newest failure of its
    key. Failures may arrive slightly out of order (several files); they are kept sorted.

    Memory: a key far from its threshold costs its times only (one float for a single
    failure). Failures are kept whole, as evidence for the ban, only from the one that brings
    the window to `keep_from` (half of maxretry, rounded up) onwards. With `max_keys` set,
    passing the limit evicts the oldest keys with the fewest failures among those below
    `keep_from`; a key at or past half its threshold is never evicted.
    """

    def __init__(self, maxretry: int, findtime: float, max_keys: int | None = None) -> None:
        self.maxretry = maxretry
        self.findtime = findtime
        self.max_keys = max_keys
        """Keys counted at most (None: no limit); see the class notes for what goes."""
        self.evicted = 0
        """Keys evicted since start because of `max_keys`."""
        self._times: dict[str, float | list[float]] = {}
        self._evidence: dict[str, list[Failure]] = {}

    def reconfigure(self, maxretry: int, findtime: float, max_keys: int | None) -> None:
        """Count on under new settings (a reload); the windows already made stay."""
        self.maxretry, self.findtime, self.max_keys = maxretry, findtime, max_keys

    @property
    def keep_from(self) -> int:
        """Window size from which failures are kept whole (and the key is never evicted)."""
        return (self.maxretry + 1) // 2

    def add(self, failure: Failure) -> Crossing | None:
        """Count a failure; the crossing when the window reaches maxretry (it then resets)."""
        key, when = failure.key, failure.time
        times = self._times.get(key)
        if times is None:
            if self.maxretry <= 1:
                return Crossing(1, (failure,))
            self._times[key] = when
            if self.keep_from <= 1:
                self._evidence[key] = [failure]
            if self.max_keys is not None and len(self._times) > self.max_keys:
                self._evict()
            return None
        if not isinstance(times, list):
            times = [times, when] if when >= times else [when, times]
            self._times[key] = times
        elif when >= times[-1]:
            times.append(when)
        else:
            insort(times, when)
        horizon = times[-1] - self.findtime
        if times[0] <= horizon:
            drop = 0
            while drop < len(times) and times[drop] <= horizon:
                drop += 1
            del times[:drop]
        count = len(times)
        evidence = self._evidence.get(key)
        if evidence is not None and evidence[0].time <= horizon:
            evidence = [kept for kept in evidence if kept.time > horizon] or None
            if evidence is None:
                del self._evidence[key]
            else:
                self._evidence[key] = evidence
        if count >= self.keep_from and when > horizon:
            if evidence is None:
                evidence = self._evidence[key] = []
            insort(evidence, failure, key=_by_time)
        if count >= self.maxretry:
            del self._times[key]
            kept = self._evidence.pop(key, None) or [failure]
            return Crossing(count, tuple(kept))
        if count == 1:
            self._times[key] = times[0]
        return None

    def count(self, key: str) -> int:
        """Failures currently in the key's window."""
        times = self._times.get(key)
        if times is None:
            return 0
        return len(times) if isinstance(times, list) else 1

    def forget(self, key: str) -> None:
        """Drop a key's window (it was banned by other means)."""
        self._times.pop(key, None)
        self._evidence.pop(key, None)

    def expire(self, now: float) -> int:
        """Release every key whose newest failure is older than findtime; returns how many."""
        horizon = now - self.findtime
        stale = [key for key, times in self._times.items()
                 if (times[-1] if isinstance(times, list) else times) <= horizon]
        for key in stale:
            self.forget(key)
        return len(stale)

    def _evict(self) -> None:
        """Release a batch of the oldest, lowest-count keys below `keep_from`."""
        assert self.max_keys is not None
        batch = max(1, int(self.max_keys * EVICTION_BATCH))
        keep_from = self.keep_from
        candidates: list[tuple[int, int, str]] = []
        for order, (key, times) in enumerate(self._times.items()):
            if order >= batch * EVICTION_SCAN and len(candidates) >= batch:
                break
            count = len(times) if isinstance(times, list) else 1
            if count < keep_from:
                candidates.append((count, order, key))
        candidates.sort()
        for _, _, key in candidates[:batch]:
            self.forget(key)
        self.evicted += min(batch, len(candidates))

    def export(self) -> Iterator[tuple[str, list[float], list[Failure]]]:
        """(key, failure times oldest first, evidence kept) of every non-empty window."""
        for key, times in self._times.items():
            yield (key, list(times) if isinstance(times, list) else [times],
                   list(self._evidence.get(key, ())))

    def restore(self, key: str, times: list[float], evidence: list[Failure]) -> None:
        """Take back a window `export` gave (after a restart). One that already holds
        maxretry failures (the jail's maxretry was lowered meanwhile) decides at its next."""
        ordered = sorted(times)
        if not ordered:
            return
        self._times[key] = ordered if len(ordered) > 1 else ordered[0]
        kept = sorted(evidence, key=_by_time)
        if kept:
            self._evidence[key] = kept

    def __len__(self) -> int:
        return len(self._times)

    def keys(self) -> Iterator[str]:
        """Keys that have a non-empty window."""
        return iter(self._times)
