"""Ban policy: how long a decision bans for, and who may never be banned."""

from __future__ import annotations

from collections.abc import Mapping

from floodwall.addresses import Allowlist
from floodwall.config.model import JailConfig
from floodwall.model import Ban, Decision


class BanPolicy:
    """Turns decisions into bans with each jail's bantime; refuses allowlisted keys."""

    def __init__(self, jails: Mapping[str, JailConfig], allowlist: Allowlist) -> None:
        self.jails = jails
        self.allowlist = allowlist
        """Never banned by any jail nor by hand (the [defaults] ignoreip)."""
        self._jail_allowlists = {name: Allowlist(j.ignoreip) for name, j in jails.items()}

    def allowed(self, key: str, jail: str | None = None) -> bool:
        """True if the key must never be banned (in that jail, or at all)."""
        if key in self.allowlist:
            return True
        return jail is not None and key in self._jail_allowlists.get(jail, self.allowlist)

    def ban_for(self, decision: Decision, start: float) -> Ban | None:
        """The ban a decision earns from `start`, or None if the key is allowlisted."""
        if self.allowed(decision.key, decision.jail):
            return None
        bantime = self.jails[decision.jail].bantime
        return Ban(key=decision.key, jail=decision.jail, start=start,
                   until=None if bantime is None else start + bantime,
                   count=len(decision.failures), origin="local", reason=decision.reason)
