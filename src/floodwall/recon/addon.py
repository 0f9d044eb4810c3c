"""The daemon's recon addon: every banned address is queued and enriched in the background.

on_ban only puts addresses in a queue, so the ban path never waits for DNS, RDAP or ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from floodwall.bans.addons import Addon, AddonHost
from floodwall.model import Ban
from floodwall.recon.enricher import Enricher, build_enricher
from floodwall.settings.values import ReconConfig

log = logging.getLogger("floodwall.recon")
WORKERS = 4
"""Addresses enriched at the same time (each source also paces itself)."""
QUEUE_LIMIT = 100_000
"""Addresses waiting at most; beyond that new bans are not enriched in the background."""


class ReconAddon(Addon):
    """Enriches banned addresses on the daemon's loop without ever blocking it."""

    def __init__(self, config: ReconConfig) -> None:
        self.config = config
        self.enricher: Enricher | None = None
        """Set at start (it uses the daemon's database and clock)."""
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self._queued: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []

    async def on_start(self, host: AddonHost) -> None:
        """Build the enricher, load the offline data (in a thread), start the workers."""
        self.enricher = build_enricher(self.config, host.database, clock=host.clock)
        await asyncio.to_thread(self.enricher.geo.load)
        self._workers = [asyncio.create_task(self._work(self.enricher), name=f"recon-{n}")
                         for n in range(WORKERS)]

    def on_ban(self, bans: Sequence[Ban]) -> None:
        """Queue the banned keys; returns at once."""
        for ban in bans:
            if ban.key in self._queued:
                continue
            try:
                self._queue.put_nowait(ban.key)
            except asyncio.QueueFull:
                log.warning("recon queue full (%d); %s is not enriched", QUEUE_LIMIT, ban.key)
                continue
            self._queued.add(ban.key)

    def pending(self) -> int:
        """Addresses queued or being looked up."""
        return len(self._queued)

    async def on_stop(self) -> None:
        """Stop the workers (what is queued is dropped) and close the sources."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self.enricher is not None:
            await self.enricher.close()

    async def _work(self, enricher: Enricher) -> None:
        while True:
            address = await self._queue.get()
            try:
                await enricher.enrich(address)
            except Exception:  # one bad answer must not stop the worker
                log.exception("recon of %s failed", address)
            finally:
                self._queued.discard(address)
