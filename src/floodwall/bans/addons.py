"""Plug-ins of the daemon: classes told of its events, and what they may use of it.

An add-on subclasses `Addon` and overrides the events it cares about:

    on_start(host)   after the firewall is rebuilt; `host` is what it may use of the daemon
    on_ban(bans)     bans added or extended (any origin)
    on_unban(bans)   bans lifted before their end
    on_stop()        before the database closes
    status()         merged into the daemon's status

Handlers run on the daemon's event loop and must not block it: slow work (DNS, Redis,
HTTP) belongs in tasks the add-on starts in on_start. An exception in a handler is logged
and never undoes or delays a ban.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from floodwall.model import Ban

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from floodwall.bans.service import BanService
    from floodwall.clock import Clock
    from floodwall.detection.jail import Jail
    from floodwall.settings.values import Config
    from floodwall.storage.database import Database


class AddonHost(Protocol):
    """What an add-on may use of the daemon that starts it."""

    @property
    def config(self) -> Config:
        """The configuration in force (a reload replaces it)."""
        ...

    @property
    def database(self) -> Database:
        """The state database."""
        ...

    @property
    def clock(self) -> Clock:
        """The daemon's clock."""
        ...

    @property
    def bans(self) -> BanService:
        """The ban path: its ledger and policy, and the one way bans are made and lifted."""
        ...

    @property
    def jails(self) -> Mapping[str, Jail]:
        """The running jails by name (a reload replaces them), e.g. to count in the fleet."""
        ...

    @property
    def lines_read(self) -> int:
        """Log lines read since start."""
        ...

    @property
    def ban_latency(self) -> Histogram:
        """Seconds from a batch of lines arriving to its bans being in the firewall."""
        ...

    def actions_pending(self) -> dict[str, int]:
        """Per jail with fail2ban actions, its action calls not yet finished."""
        ...

    def actions_failed(self) -> dict[str, int]:
        """Per jail with fail2ban actions, its ban-time action calls that failed."""
        ...

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a control request as the control socket does."""
        ...


class Addon:
    """A plug-in of the daemon; each event does nothing unless a subclass says otherwise."""

    async def on_start(self, host: AddonHost) -> None:
        """The daemon started (its firewall is rebuilt); `host` stays valid until on_stop."""

    def on_ban(self, bans: Sequence[Ban]) -> None:
        """Bans were added or extended (any origin)."""

    def on_unban(self, bans: Sequence[Ban]) -> None:
        """Bans were lifted before their end."""

    async def on_stop(self) -> None:
        """The daemon stops (the database is still open)."""

    def status(self) -> dict[str, Any]:
        """What to merge into the daemon's status."""
        return {}
