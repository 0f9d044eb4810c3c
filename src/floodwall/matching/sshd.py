"""The sshd jail's filter: counts authentication ATTEMPTS, not log lines.

OpenSSH logs one attempt as several lines of the same process (`Invalid user …`, PAM's
`authentication failure …`, `Failed password for invalid user …`). Counting lines would
count one guess three times; here:

- each `Failed <method> for [invalid user] USER from ADDR port N …` line is one attempt;
- a connection that announced `Invalid user … from ADDR` and closed (`Connection closed by
  invalid user …` / `Disconnected from invalid user …`) without any `Failed` line is one
  attempt, counted at its close line;
- PAM lines, `maximum authentication attempts exceeded` and plain disconnects count nothing.

The address is the one sshd wrote after the last ` from ` of its own suffix; a user name
such as `x from 192.0.2.1 port 1` cannot move it, since the suffix is anchored at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from floodwall.addresses import normalise_address
from floodwall.matching.entries import Entry
from floodwall.matching.filters import Requirement
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure

_PROGRAMS = frozenset({"sshd", "sshd-session"})
_FAILED = re.compile(
    r"^Failed (?P<method>[\w\-/@.]+) for (?P<invalid>invalid user )?(?P<user>.*)"
    r" from (?P<host>[0-9A-Fa-f:.]+) port \d+(?: ssh\d)?(?:: [\w\-]+ \S+)?$")
_INVALID = re.compile(r"^Invalid user (?P<user>.*) from (?P<host>[0-9A-Fa-f:.]+) port \d+$")
_CLOSED_INVALID = re.compile(
    r"^(?:Connection closed by|Disconnected from) invalid user (?P<user>.*) "
    r"(?P<host>[0-9A-Fa-f:.]+) port \d+ \[preauth\]$")

_PENDING_TTL = 600.0
"""Seconds an announced invalid user waits for its connection's close before being dropped."""


@dataclass(slots=True)
class _Pending:
    host: str
    user: str
    time: float
    failed: bool = False


class SshdFilter:
    """Failed ssh authentication attempts, one failure per attempt."""

    wants_access = False
    wants_syslog = True
    wants_time = True
    requires: Requirement = "syslog"
    timeouts = 0  # its own regexes run in linear time: never interrupted
    necessary: Condition | None = (("Failed ", "Invalid user ", "invalid user "), ("sshd",))

    def __init__(self, jail: str) -> None:
        self.jail = jail
        self._pending: dict[tuple[str, int | None], _Pending] = {}
        self._last_expiry = 0.0

    def failures(self, entry: Entry) -> list[Failure]:
        """The attempt this line completes, if any."""
        record = entry.syslog
        if record is None or record.program not in _PROGRAMS:
            return []
        self._expire(record.time)
        message = record.message
        connection = (record.host, record.pid)
        if message.startswith("Failed "):
            match = _FAILED.match(message)
            if not match:
                return []
            pending = self._pending.get(connection)
            if pending is not None:
                pending.failed = True
            return self._failure(entry, match["host"], match["user"], match["method"],
                                 invalid=bool(match["invalid"]))
        if message.startswith("Invalid user "):
            match = _INVALID.match(message)
            if match:
                self._pending[connection] = _Pending(match["host"], match["user"], record.time)
            return []
        if message.endswith("[preauth]"):
            match = _CLOSED_INVALID.match(message)
            if match:
                pending = self._pending.pop(connection, None)
                if pending is not None and not pending.failed:
                    return self._failure(entry, pending.host, pending.user, "none",
                                         invalid=True)
        return []

    def _failure(self, entry: Entry, host: str, user: str, method: str, *,
                 invalid: bool) -> list[Failure]:
        key = normalise_address(host)
        if key is None or entry.time is None:
            return []
        line = entry.line
        return [Failure(self.jail, key, entry.time, line.path, line.lineno, line.text,
                        {"user": user, "method": method, "invalid_user": invalid})]

    def _expire(self, now: float) -> None:
        if now - self._last_expiry < 60 or not self._pending:
            return
        self._last_expiry = now
        horizon = now - _PENDING_TTL
        for connection in [c for c, p in self._pending.items() if p.time < horizon]:
            del self._pending[connection]
