"""Rate limits: at most one action per interval, waiting callers served in turn."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Lets one caller through every `interval` seconds (monotonic time)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = asyncio.Lock()
        self._last = float("-inf")

    async def wait(self) -> None:
        """Return when the caller may act; the next one waits a full interval after it."""
        async with self._lock:
            delay = self._last + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._last = time.monotonic()
