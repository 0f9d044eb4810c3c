"""Plug-ins of the daemon: plain classes told of its events, each method optional.

    class Addon:
        async def on_start(self, daemon) -> None     # after the firewall is rebuilt
        def on_ban(self, bans: list[Ban]) -> None      # bans added or extended (any origin)
        def on_unban(self, bans: list[Ban]) -> None    # bans lifted before their end
        async def on_stop(self) -> None               # before the database closes
        def status(self) -> dict                       # merged into the daemon's status

Handlers run on the daemon's event loop and must not block it: slow work (DNS, Redis,
HTTP) belongs in tasks the addon starts in on_start. An exception in a handler is logged
and never undoes or delays a ban.
"""

from __future__ import annotations

from typing import Any, Protocol


class Addon(Protocol):
    """Marker protocol: an addon implements any of on_start, on_ban, on_unban, on_stop."""

    def __getattr__(self, name: str) -> Any: ...
