"""A bound on the time one line may take in the filters: a regex that backtracks without end
(on text an attacker wrote) is interrupted instead of freezing the process.

Python's `re` checks for signals while it matches, so a signal handler can end a search.
While a batch is being matched (`armed`), a SIGALRM timer ticks a few times per limit; each
line bumps a counter on `enter`. A tick that finds the same line still inside the filters
after `limit` seconds of the main thread's CPU time raises LineTimeout there (CPU time, so
a loaded machine that keeps the daemon waiting never cuts an honest line short). Costs per
line: two attribute writes; per batch: two setitimer calls. Only the main thread receives
signals: elsewhere, and outside `armed`, lines run unbounded.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

log = logging.getLogger("floodwall.matching")

TICKS_PER_LIMIT = 4
REPORT_EVERY_SECONDS = 60.0
"""A jail names the regexes behind its interrupted lines at most this often (the look-up
tries each regex again, costing up to the limit once more)."""

Trial = tuple[str, str, re.Pattern[str], str]
"""(option, the regex as written, compiled, the text it searches) of one regex of a filter."""


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


class SlowLines:
    """A jail's lines interrupted by the deadline: counted, and logged at most once a
    minute with the file, the line and each regex that alone is slow on it."""

    def __init__(self, jail: str, deadline: LineDeadline) -> None:
        self.jail = jail
        self.deadline = deadline
        self.count = 0
        """Lines interrupted so far (they count for nothing)."""
        self._reported_at = float("-inf")
        self._unreported = 0

    def record(self, path: str, lineno: int, where: str,
               trials: Callable[[], Sequence[Trial]]) -> None:
        """One more interrupted line, `path`:`lineno`, in `where` (e.g. "filter FILE");
        `trials` lists the regexes to try alone when this one is reported."""
        self.count += 1
        now = time.monotonic()
        if now - self._reported_at < REPORT_EVERY_SECONDS:
            self._unreported += 1
            return
        self._reported_at, earlier, self._unreported = now, self._unreported, 0
        culprits = " | ".join(f"{option} = {source}" for option, source in self._slow(
            trials())) or "no single regex (the regexes together)"
        log.error("jail '%s': %s line %d took more than %gs in %s and was skipped (it counts "
                  "for nothing).%s Make the regex fail faster (no nested repetition such as "
                  "(a+)+ or (.*)*, anchor it) or raise [floodwall] line_timeout. Slow on it: %s",
                  self.jail, path, lineno, self.deadline.limit, where,
                  f" {earlier} more line(s) timed out since the last report." if earlier
                  else "", culprits)

    def _slow(self, trials: Sequence[Trial]) -> list[tuple[str, str]]:
        """(option, regex) of each trial that alone exceeds the limit."""
        slow: list[tuple[str, str]] = []
        deadline = self.deadline
        for option, source, pattern, text in trials:
            deadline.enter()
            try:
                pattern.search(text)
            except LineTimeout:
                slow.append((option, source))
            finally:
                deadline.leave()
        return slow
