"""What fail2ban's Actions do with each action of a jail, whatever runs it (commands, or a
Python class): start it, ban and unban keys, lift everything and stop it at the end."""

from __future__ import annotations

from typing import Literal

from floodwall.model import Ban

Operation = Literal["ban", "unban", "prolong"]
"""What a ban asks of an action."""
Capability = Literal["prolong", "flush", "reload"]
"""What an action may or may not offer."""


class ActionLifecycle:
    """One action of one jail and what it has started and banned; subclasses say how."""

    on_demand = False
    """Start at the first ban of each address family instead of at the jail's start."""

    def __init__(self, jail: str, name: str) -> None:
        self.jail = jail
        self.name = name
        self.started: set[str] = set()
        """Address families started ("" for an action not started on demand)."""
        self.banned: dict[str, tuple[Ban, dict[str, str]]] = {}
        """Key -> the ban as this action last got it, and its tags (unban gets the same)."""
        self.failing: set[str] = set()
        """Keys whose last ban (or prolong) by this action failed: not enforced by it."""
        self.failures = 0
        """Ban-time calls (ban, prolong, unban) that failed since start."""

    def start(self) -> None:
        """Start at the jail's start (on-demand actions wait for their first ban)."""
        if not self.on_demand and "" not in self.started:
            self._begin("")

    def ban(self, ban: Ban, tags: dict[str, str], restored: bool) -> None:
        """Ban a key new to this action; prolong one whose end changed (where it can)."""
        known = self.banned.get(ban.key)
        if known is not None:
            if known[0].until != ban.until:
                self.banned[ban.key] = (ban, tags)
                if self._can("prolong"):
                    self._note(ban.key, self._send("prolong", tags, ban.key))
            return
        if restored and self._norestored():
            return  # e.g. a mail action: the ban was reported before the restart
        if self.on_demand and tags["family"] not in self.started:
            self._begin(tags["family"])
        self.banned[ban.key] = (ban, tags)
        self._note(ban.key, self._send("ban", tags, ban.key))

    def unban(self, key: str) -> None:
        """Unban a key this action banned (with the tags it was banned with)."""
        known = self.banned.pop(key, None)
        self.failing.discard(key)
        if known is not None and not self._send("unban", known[1], key):
            self.failures += 1

    def _note(self, key: str, succeeded: bool) -> None:
        """Keep whether the action enforces the key's ban."""
        if succeeded:
            self.failing.discard(key)
        else:
            self.failing.add(key)
            self.failures += 1

    def reload(self) -> None:
        """The configuration was read again and this action did not change."""
        if self.started and self._can("reload"):
            self._reload()

    def release(self, why: str) -> None:
        """Lift every ban (one flush per family where the action can, else an unban each),
        then stop every family started: fail2ban's jail stop."""
        if self.banned and self.started and self._can("flush") and all(
                self._flush(family, why) for family in sorted(self.started)):
            self.banned.clear()
        for key in list(self.banned):
            self.unban(key)
        for family in sorted(self.started):
            self._stop(family, why)
        self.started.clear()
        self._released()

    def _begin(self, family: str) -> None:
        """Start one family; it counts as started only if that succeeded."""
        if self._start(family):
            self.started.add(family)

    # --- what a kind of action provides ---------------------------------------------------

    def _start(self, family: str) -> bool:
        raise NotImplementedError

    def _stop(self, family: str, why: str) -> None:
        raise NotImplementedError

    def _send(self, operation: Operation, tags: dict[str, str], what: str) -> bool:
        """Run a ban-time operation; whether it succeeded."""
        raise NotImplementedError

    def _flush(self, family: str, why: str) -> bool:
        raise NotImplementedError

    def _reload(self) -> None:
        raise NotImplementedError

    def _can(self, operation: Capability) -> bool:
        raise NotImplementedError

    def _norestored(self) -> bool:
        raise NotImplementedError

    def _released(self) -> None:
        """After the stop (a Python action's helper ends here)."""
