"""An enforcer that records its calls, for testing the rooms that drive enforcement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from floodwall.enforcement.base import JailFirewall
from floodwall.model import Change


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """One recorded call of `apply`."""

    changes: tuple[Change, ...]
    """The changes exactly as passed."""
    now: float
    """The time passed with them."""


class RecordingEnforcer:
    """Keeps every setup and apply call in lists, and the keys they leave in a set per jail."""

    def __init__(self) -> None:
        self.setups: list[tuple[JailFirewall, ...]] = []
        """The jails of each setup() call, oldest first."""
        self.batches: list[AppliedBatch] = []
        """Each apply() call, oldest first."""
        self.teardowns = 0
        """How many times teardown() was called."""
        self.closes = 0
        """How many times close() was called."""
        self._keys: dict[str, set[str]] = {}

    @property
    def changes(self) -> list[Change]:
        """Every change of every batch, in order."""
        return [change for batch in self.batches for change in batch.changes]

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """Record the jails and start with empty sets, as a real rebuild does."""
        self.setups.append(tuple(jails))
        self._keys = {jail.name: set() for jail in jails}

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """setup() then apply(), recorded as both (a twin has no moment in between)."""
        self.setup(jails)
        self.apply(changes, now)

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Record the batch and add or discard each key (expiry is not simulated)."""
        self.batches.append(AppliedBatch(tuple(changes), now))
        for change in changes:
            keys = self._keys.setdefault(change.ban.jail, set())
            if change.action == "add":
                keys.add(change.ban.key)
            else:
                keys.discard(change.ban.key)

    def elements(self) -> dict[str, list[str]]:
        """Jail name -> keys added and not removed since the last setup."""
        return {jail: sorted(keys) for jail, keys in self._keys.items()}

    def close(self) -> None:
        """Count the call; the keys stay (as a kernel's sets do)."""
        self.closes += 1

    def teardown(self) -> None:
        """Count the call and forget the keys."""
        self.teardowns += 1
        self._keys = {}
