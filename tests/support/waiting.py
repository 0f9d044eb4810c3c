"""Waiting on a condition inside an event loop, with a deadline (never a bare sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Return once `condition()` holds; AssertionError naming `what` after `timeout` s."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
