"""The recidive rule: an address banned again and again is banned on every port, for long."""

from __future__ import annotations

from floodwall.bans.policy import History
from floodwall.model import Ban
from floodwall.settings.durations import format_duration
from floodwall.settings.values import RecidiveConfig

RECIDIVE_JAIL = "recidive"
"""Jail of recidive bans (all ports)."""


def recidive_ban(config: RecidiveConfig, ban: Ban, history: History, now: float) -> Ban | None:
    """The recidive ban that `ban` (already in the ledger) triggers, or None."""
    if not config.enabled or ban.jail == RECIDIVE_JAIL or "/" in ban.key:
        return None
    bans = history(ban.key, now - config.findtime, None)
    if bans < config.maxretry:
        return None
    return Ban(key=ban.key, jail=RECIDIVE_JAIL, start=now,
               until=None if config.bantime is None else now + config.bantime, count=bans,
               origin="local",
               reason=f"{bans} bans in {format_duration(config.findtime)} in any jail, "
                      f"limit {config.maxretry} (recidive)")
