"""The values that travel between rooms: one line of log, a failure, a decision, a ban."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One complete line read from a log source."""

    path: str
    """File the line was read from (as configured, not resolved)."""
    lineno: int
    """1-based line number within the current generation of the file."""
    text: str
    """The line without its trailing newline; undecodable bytes are U+FFFD."""
    time: float | None = None
    """When the source itself dates the line (a journal entry); None for a file's lines,
    whose date is in their text."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One matched line attributed to a key (an address)."""

    jail: str
    """Name of the jail whose filter matched."""
    key: str
    """What is counted and banned: a normalised address or prefix."""
    time: float
    """Unix time of the event, taken from the log line itself."""
    path: str
    """File the line came from."""
    lineno: int
    """Line number within that file."""
    text: str
    """The log line, kept as evidence."""
    fields: Mapping[str, object] = field(default_factory=dict)
    """Named fields the filter extracted (method, status, user, vhost…)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A jail's verdict that a key crossed its threshold."""

    jail: str
    """Jail that decided."""
    key: str
    """Address or prefix to ban."""
    time: float
    """Time of the failure that crossed the threshold (log time)."""
    reason: str
    """Human sentence: what was counted, how many, in which window."""
    failures: tuple[Failure, ...]
    """Evidence: failures of the window that caused the decision, oldest first (the newest
    ones; a long window keeps only the failures from half its threshold on)."""
    count: int
    """Failures counted in the window (at least as many as `failures`)."""


@dataclass(frozen=True, slots=True)
class Ban:
    """An entry of the ledger: a key banned from start until an end (or forever)."""

    key: str
    """Address or prefix banned."""
    jail: str
    """Jail (or 'manual') that banned it; selects the firewall set and ports."""
    start: float
    """Unix time the ban began."""
    until: float | None
    """Unix time the ban ends; None for a permanent ban."""
    count: int = 0
    """Failures that caused the ban."""
    origin: str = "local"
    """Node that decided the ban ('local' for this one, 'manual' for the CLI)."""
    reason: str = ""
    """Why the ban was made, for operators."""
    step: int = 0
    """Escalation step: previous bans of the key that made this one longer (0 = first)."""

    def remaining(self, now: float) -> float | None:
        """Seconds left at `now`; None for permanent, 0 when expired."""
        if self.until is None:
            return None
        return max(0.0, self.until - now)


@dataclass(frozen=True, slots=True)
class Change:
    """One thing for the firewall to do: add (or extend) a ban, or remove it."""

    action: Literal["add", "remove"]
    """'add' puts the ban's key in its jail's set (refreshing its timeout); 'remove' takes it
    out."""
    ban: Ban
    """The ban whose key and jail are meant."""
    restored: bool = False
    """The ban was already in force before the daemon started (applied again from the
    ledger); fail2ban actions with `norestored` skip such bans."""

@dataclass(frozen=True, slots=True)
class Position:
    """How far one file has been read: the end of its last complete line."""

    inode: int
    """Inode of the file that was read; another inode at the path is another file."""
    offset: int
    """Byte offset just after the last complete line read."""
    lineno: int
    """Number of lines read so far in this generation of the file."""
    head: str
    """`sources.offsets.head_digest` of the first min(offset, HEAD_BYTES) bytes: tells a
    recreated or truncated-and-regrown file apart from the one that was read."""
