"""Daemons for tests, in the two ways a test needs one.

- `fed_daemon`: the ban path alone. Lines are handed to `Daemon.process` directly (no files,
  no inotify), time is a manual clock, the firewall a recording twin; a test of decisions,
  bans, escalation, allowlists, reasons or counters runs in milliseconds.

      with fed_daemon(config) as fed:
          fed.feed(LOG, access_line("203.0.113.7", when=T0) * 4)
          assert fed.banned("web") == ["203.0.113.7"]

- `with_daemon`: a started daemon (watcher, control socket, addons) around a test's async
  body, for what needs them: following files, the socket, reloads, restarts, addons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from floodwall.bans.addons import Addon
from floodwall.clock import Clock, ManualClock
from floodwall.enforcement.base import Enforcer
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import Ban
from floodwall.server.daemon import Daemon
from floodwall.settings.values import Config
from tests.support.lines import T0, source_lines


@dataclass(frozen=True)
class FedDaemon:
    """A daemon that is never started: its ban path fed directly, on a manual clock."""

    daemon: Daemon
    clock: ManualClock
    firewall: RecordingEnforcer

    def feed(self, path: str | Path, text: str, first_line: int = 1) -> list[Ban]:
        """Hand the lines of `text` to the ban path as one batch read from `path` (numbered
        from `first_line`); the bans it made."""
        return self.daemon.process(source_lines(path, text, first_line))

    def banned(self, jail: str) -> list[str]:
        """The keys in `jail`'s firewall set, sorted."""
        return self.firewall.elements().get(jail, [])


@contextmanager
def fed_daemon(config: Config, *, start: float = T0) -> Iterator[FedDaemon]:
    """A daemon on `config` with a manual clock at `start` and a recording firewall set up
    as at start, for feeding lines directly; its database is closed on exit."""
    clock = ManualClock(start)
    firewall = RecordingEnforcer()
    daemon = Daemon(config, clock=clock, enforcer=firewall)
    daemon.bans.rebuild_firewall()  # as start() does, without following any file
    try:
        yield FedDaemon(daemon, clock, firewall)
    finally:
        daemon.database.close()


def with_daemon(config: Config, body: Callable[[Daemon], Awaitable[None]], *,
                enforcer: Enforcer | None = None, clock: Clock | None = None,
                addons: Sequence[Addon] = (), timeout: float = 60.0) -> None:
    """Start a daemon on `config` (its own enforcer and the system clock unless given), await
    `body` with it, then shut it down; the whole run fails after `timeout` seconds."""
    async def main() -> None:
        daemon = Daemon(config, enforcer=enforcer, clock=clock, addons=addons)
        await daemon.start()
        try:
            await body(daemon)
        finally:
            await daemon.shutdown()

    asyncio.run(asyncio.wait_for(main(), timeout=timeout))
