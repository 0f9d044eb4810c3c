"""The daemon's journal readers: one journalctl follower per jail with `backend = systemd`,
their lines handed to the daemon like a file's, their cursors kept across restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from floodwall.model import SourceLine
from floodwall.settings.values import JailConfig
from floodwall.sources.journal import JournalFollower
from floodwall.storage.database import Database

CURSOR_KEY = "journal-cursor:"
"""Prefix of the database meta keys holding each jail's journal cursor."""


class JournalReaders:
    """Followers of the journal for the jails that read it."""

    def __init__(self, jails: Sequence[JailConfig], database: Database,
                 process: Callable[[Sequence[SourceLine]], object]) -> None:
        """`process` takes each batch of lines and never raises."""
        self._database = database
        self._process = process
        self.followers = [
            JournalFollower(jail.name, jail.journal, jail.findtime,
                            cursor=database.get_meta(CURSOR_KEY + jail.name))
            for jail in jails if jail.journal is not None]
        """One follower per journal jail."""
        self._tasks = [asyncio.ensure_future(self._follow(follower))
                       for follower in self.followers]

    async def _follow(self, follower: JournalFollower) -> None:
        async with contextlib.aclosing(follower.batches()) as batches:
            async for batch in batches:
                self._process(batch)

    def checkpoint(self) -> None:
        """Save where each follower is."""
        for follower in self.followers:
            if follower.cursor is not None:
                self._database.set_meta(CURSOR_KEY + follower.jail, follower.cursor)

    async def close(self) -> None:
        """Stop following (after a last checkpoint)."""
        self.checkpoint()
        for task in self._tasks:
            task.cancel()  # each follower ends its journalctl as it is closed
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
