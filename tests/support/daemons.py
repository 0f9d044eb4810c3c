"""Running a real daemon around a test's async body: start, body, shutdown, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from floodwall.enforcement.base import Enforcer
from floodwall.server.daemon import Daemon
from floodwall.settings.values import Config


def with_daemon(config: Config, body: Callable[[Daemon], Awaitable[None]], *,
                enforcer: Enforcer | None = None, timeout: float = 60.0) -> None:
    """Start a daemon on `config` (its own enforcer unless one is given), await `body` with
    it, then shut it down; the whole run fails after `timeout` seconds."""
    async def main() -> None:
        daemon = Daemon(config, enforcer=enforcer)
        await daemon.start()
        try:
            await body(daemon)
        finally:
            await daemon.shutdown()

    asyncio.run(asyncio.wait_for(main(), timeout=timeout))
