"""A bound on the time one line may take in the filters: a regex that backtracks without end
(on text an attacker wrote) is interrupted instead of freezing the process.

Python's `re` checks for signals while it matches, so a signal handler can end a search.
While a batch is being matched (`armed`), a SIGALRM timer ticks a few times per limit; each
line bumps a counter on `enter`. A tick that finds the same line still inside the filters
after `limit` seconds of the main thread's CPU time raises LineTimeout there (CPU time, so
a loaded machine that keeps the daemon waiting never cuts an honest line short). Costs per line: two attribute writes; per
batch: two setitimer calls. Only the main thread receives signals: elsewhere, and outside
`armed`, lines run unbounded.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

TICKS_PER_LIMIT = 4


class LineTimeout(Exception):
    """One line took longer than the limit in the filters (raised inside the search)."""


class LineDeadline:
    """Interrupts a line that spends more than `limit` seconds of CPU inside the filters."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        """Seconds one line may take; None: no bound."""
        self._line = 0  # bumped by enter(): which line is inside
        self._inside = False
        self._seen_line = -1  # the line the last tick found inside, and since when
        self._seen_since = 0.0
        self._armed = False

    def enter(self) -> None:
        """A new line goes into the filters."""
        self._line += 1
        self._inside = True

    def leave(self) -> None:
        """The line is out of the filters (the handler no longer interrupts anything)."""
        self._inside = False

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Bound the lines matched within the block (main thread only; nests as a no-op)."""
        if (self._armed or self.limit is None
                or threading.current_thread() is not threading.main_thread()):
            yield
            return
        tick = self.limit / TICKS_PER_LIMIT
        previous = signal.signal(signal.SIGALRM, self._on_tick)
        signal.siginterrupt(signal.SIGALRM, False)  # system calls resume after a tick
        self._armed, self._seen_line = True, -1
        signal.setitimer(signal.ITIMER_REAL, tick, tick)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self._armed = self._inside = False

    def _on_tick(self, signum: int, frame: FrameType | None) -> None:
        if not self._inside:
            return
        now = time.thread_time()
        if self._line != self._seen_line:
            self._seen_line, self._seen_since = self._line, now
        elif self.limit is not None and now - self._seen_since >= self.limit:
            self._inside = False  # one interruption per line
            raise LineTimeout(f"a line took more than {self.limit:g}s in the filters")
