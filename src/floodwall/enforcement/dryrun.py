"""An enforcer that only logs what it would do and remembers the keys in memory."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from floodwall.clock import Clock, SystemClock
from floodwall.enforcement.base import (
    ApplyError,
    JailFirewall,
    key_text,
    parse_key,
    timeout_seconds,
)
from floodwall.errors import EnforcementError
from floodwall.model import Change

log = logging.getLogger("floodwall.enforcement")


class DryRunEnforcer:
    """Logs each change instead of touching the firewall; keys expire by `clock` like nft's."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._sets: dict[str, dict[str, float | None]] = {}

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """Forget every key and start one empty set per jail, logging the rule it would make."""
        self._sets = {}
        for jail in jails:
            ports = ", ".join(jail.ports) if jail.ports else "all ports"
            protocol = f" ({jail.protocol})" if jail.ports else ""
            log.info("dry run: would drop banned keys of jail '%s' on %s%s",
                     jail.name, ports, protocol)
            self._sets[jail.name] = {}

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """setup() then apply(): nothing is enforced, so nothing opens in between."""
        self.setup(jails)
        self.apply(changes, now)

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Log and remember each change in order; raise ApplyError for the invalid ones."""
        failures: list[tuple[Change, str]] = []
        for change in changes:
            try:
                self._apply_one(change, now)
            except EnforcementError as error:
                failures.append((change, str(error)))
        if failures:
            raise ApplyError(failures)

    def elements(self) -> dict[str, list[str]]:
        """Jail name -> keys whose ban has not run out by the clock."""
        now = self._clock.now()
        return {jail: sorted(key for key, until in keys.items() if until is None or until > now)
                for jail, keys in self._sets.items()}

    def close(self) -> None:
        """Nothing to do: a dry run holds nothing outside the process."""

    def teardown(self) -> None:
        """Forget every jail and key."""
        log.info("dry run: would delete the firewall table")
        self._sets = {}

    def _apply_one(self, change: Change, now: float) -> None:
        ban = change.ban
        keys = self._sets.get(ban.jail)
        if keys is None:
            raise EnforcementError(
                f"jail '{ban.jail}' has no firewall set; it must be among the jails given "
                "to setup()")
        key = key_text(parse_key(ban.key))
        if change.action == "remove":
            log.info("dry run: would unban %s in jail '%s'", key, ban.jail)
            keys.pop(key, None)
            return
        timeout = timeout_seconds(ban, now)
        if timeout == 0:
            log.debug("dry run: skipping ban of %s in jail '%s': already expired", key, ban.jail)
            return
        log.info("dry run: would ban %s in jail '%s' %s", key, ban.jail,
                 "permanently" if timeout is None else f"for {timeout}s")
        keys[key] = None if timeout is None else now + timeout
