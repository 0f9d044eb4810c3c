"""Waiting on a condition with a deadline (never a bare sleep): `until` inside an event loop,
`wait_until` from plain synchronous code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0,
                interval: float = 0.01) -> float:
    """Return once `condition()` holds, with the seconds that took; AssertionError naming
    `what` after `timeout` seconds. The loop runs the daemon's tasks in between."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        if loop.time() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
    return loop.time() - started


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    """Poll `condition` until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
