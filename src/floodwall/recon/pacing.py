"""Rate limits: one action at a time, each starting a full interval after the last one ended."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class Pacer:
    """Lets one caller act at a time, `interval` seconds (monotonic) after the previous one
    finished, so the far end sees the spacing whatever the network's delays."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = asyncio.Lock()
        self._last_end = float("-inf")

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for the caller's turn, then hold it until the block ends."""
        async with self._lock:
            # asyncio may wake a sleeper up to its clock resolution early: wait until due.
            while (delay := self._last_end + self.interval - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            try:
                yield
            finally:
                self._last_end = time.monotonic()
