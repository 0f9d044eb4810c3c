"""Politeness towards other people's servers: one action at a time, each starting a full
interval after the previous one ended (RDAP, backdoor checks, the audit's requests)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable


class Pacer:
    """Lets one caller act at a time, `interval` seconds after the previous one finished,
    so the far end sees the spacing whatever the network's delays."""

    def __init__(self, interval: float, *, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.interval = interval
        self._now = now
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._last_end = -math.inf

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for the caller's turn, then hold it until the block ends."""
        async with self._lock:
            # asyncio may wake a sleeper up to its clock resolution early: wait until due.
            while (delay := self._last_end + self.interval - self._now()) > 0:
                await self._sleep(delay)
            try:
                yield
            finally:
                self._last_end = self._now()


class HostPacers:
    """A Pacer per host: requests to one host one at a time and `1/rate` s apart, to
    different hosts side by side."""

    def __init__(self, rate: float, *, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._interval = 1.0 / rate
        self._now, self._sleep = now, sleep
        self._pacers: dict[str, Pacer] = {}

    def turn(self, host: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The turn of one request to `host` (held while the request runs)."""
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = Pacer(self._interval, now=self._now, sleep=self._sleep)
        return pacer.turn()
