"""Bans in and out of floodwall: JSON records, plain address lists, and taking imported bans
into the ledger exactly once."""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from floodwall.addresses import ban_key
from floodwall.errors import ImportFileError
from floodwall.model import Ban, Failure
from floodwall.storage.database import Database, StoredBan

LIST_ORIGIN = "import"
"""Origin of the bans read from a plain address list."""
MAX_REASON_CHARS = 1000
"""Longer reasons in an imported file are cut."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One ban to take in, and when it ended if it is already over."""

    ban: Ban
    ended: float | None = None
    """When the ban ended early (lifted, replaced); None: it runs until `ban.until`."""

    def ended_at(self, now: float) -> float | None:
        """When the ban ended if it is over at `now` (then it is only history), else None."""
        if self.ended is not None:
            return self.ended
        if self.ban.until is not None and self.ban.until <= now:
            return self.ban.until
        return None


@dataclass(frozen=True, slots=True)
class Intake:
    """What taking in a set of bans did."""

    enforced: int = 0
    """Active bans added to the ledger (or that extended a shorter ban)."""
    history: int = 0
    """Past bans stored as history (for escalation and `why`)."""
    known: int = 0
    """Bans already recorded by an earlier import, or no longer than the ban in force."""
    allowlisted: tuple[str, ...] = ()
    """Keys refused because they must never be banned."""

    def __add__(self, other: Intake) -> Intake:
        return Intake(self.enforced + other.enforced, self.history + other.history,
                      self.known + other.known, self.allowlisted + other.allowlisted)

    def summary(self) -> str:
        """One line for the operator."""
        text = (f"{self.enforced} active ban(s) enforced, {self.history} past ban(s) kept as "
                f"history, {self.known} already known")
        if self.allowlisted:
            text += f"; refused (allowlisted): {', '.join(self.allowlisted)}"
        return text


Apply = Callable[[list[tuple[Ban, Sequence[Failure]]]], Sequence[object]]
"""Records active bans (BanService.apply, or a Ledger's add); returns what changed."""


def take_in(database: Database, entries: Sequence[Entry], now: float, apply: Apply,
            allowed: Callable[[str, str], bool]) -> Intake:
    """Store each entry once: past bans as ended history, current ones through `apply`.
    An entry already recorded (same key, jail, start and origin) is skipped, so importing
    the same file twice changes nothing; keys `allowed(key, jail)` says to spare are refused."""
    recorded = database.recorded_bans(entry.ban.origin for entry in entries)
    history: list[tuple[Ban, float, str]] = []
    active: list[tuple[Ban, Sequence[Failure]]] = []
    allowlisted: list[str] = []
    known = 0
    for entry in entries:
        ban = entry.ban
        identity = (ban.key, ban.jail, ban.start, ban.origin)
        if identity in recorded:
            known += 1
            continue
        recorded.add(identity)
        ended = entry.ended_at(now)
        if ended is not None:
            history.append((ban, ended, f"ended before import ({ban.origin})"))
        elif allowed(ban.key, ban.jail):
            allowlisted.append(ban.key)
        else:
            active.append((ban, ()))
    stored = database.add_ended_bans(history) if history else 0
    enforced = len(apply(active)) if active else 0
    return Intake(enforced, stored, known + len(active) - enforced, tuple(allowlisted))


def exported(database: Database, everything: bool, now: float) -> list[StoredBan]:
    """The bans to export: those in force at `now`, or (`everything`) all the ledger keeps."""
    if everything:
        return database.bans_since(0.0)
    return [stored for stored in database.open_bans()
            if stored.ban.until is None or stored.ban.until > now]


# --- JSON records -------------------------------------------------------------------------

def entry_record(ban: Ban, ended: float | None = None) -> dict[str, Any]:
    """A ban as a JSON object (the export format, one per line)."""
    return {"address": ban.key, "jail": ban.jail, "start": ban.start, "until": ban.until,
            "failures": ban.count, "origin": ban.origin, "reason": ban.reason, "ended": ended}


def stored_record(stored: StoredBan) -> dict[str, Any]:
    """A ban of the ledger as a JSON object, with its end if it is over."""
    return entry_record(stored.ban, stored.ended)


def render_json(records: Iterable[dict[str, Any]]) -> str:
    """JSON lines: one object per ban."""
    return "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)


def render_list(bans: Iterable[Ban]) -> str:
    """One address or prefix per line, each once, sorted."""
    keys = sorted({ban.key for ban in bans}, key=_sort_key)
    return "".join(key + "\n" for key in keys)


def parse_json(text: str, path: str) -> list[Entry]:
    """Entries from JSON lines (as exported) or one JSON array of the same objects."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except ValueError as problem:
            raise ImportFileError(f"{path}: not valid JSON: {problem}") from None
        return [entry_from_record(record, f"{path}: item {index}")
                for index, record in enumerate(records, start=1)]
    entries = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as problem:
            raise ImportFileError(f"{path}:{lineno}: not a JSON object ({problem}); expected "
                                  "one ban per line as `floodwall export` writes") from None
        entries.append(entry_from_record(record, f"{path}:{lineno}"))
    return entries


def entry_from_record(record: object, where: str) -> Entry:
    """An entry from one JSON object; ImportFileError naming `where` if it is not valid."""
    if not isinstance(record, dict):
        raise ImportFileError(f"{where}: expected a JSON object with address, jail, start, "
                              f"until, got {type(record).__name__}")
    try:
        key = ban_key(str(record.get("address", "")))
    except ValueError as problem:
        raise ImportFileError(f"{where}: {problem}") from None
    jail = record.get("jail")
    if not isinstance(jail, str) or not jail:
        raise ImportFileError(f"{where}: 'jail' must be a non-empty string")
    start = _time(record.get("start"), where, "start")
    until = _optional_time(record.get("until"), where, "until")
    ended = _optional_time(record.get("ended"), where, "ended")
    count = record.get("failures", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ImportFileError(f"{where}: 'failures' must be a whole number, got {count!r}")
    ban = Ban(key, jail, start, until, count, str(record.get("origin") or LIST_ORIGIN),
              str(record.get("reason") or "")[:MAX_REASON_CHARS])
    return Entry(ban, ended)


# --- plain lists ----------------------------------------------------------------------------

def parse_list(text: str, path: str, jail: str, bantime: float | None, now: float
               ) -> list[Entry]:
    """Entries from one address or CIDR prefix per line ('#' starts a comment), each banned
    from `now` for `bantime` seconds (None: permanently) in `jail`."""
    entries = []
    until = None if bantime is None else now + bantime
    for lineno, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            key = ban_key(item)
        except ValueError as problem:
            raise ImportFileError(f"{path}:{lineno}: {problem}") from None
        entries.append(Entry(Ban(key, jail, now, until, 0, LIST_ORIGIN,
                                 f"imported from {path}:{lineno}")))
    return entries


def _time(value: object, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ImportFileError(f"{where}: '{name}' must be a unix time in seconds, got {value!r}")
    return float(value)


def _optional_time(value: object, where: str, name: str) -> float | None:
    return None if value is None else _time(value, where, name)


def _sort_key(key: str) -> tuple[int, int, int]:
    network = ipaddress.ip_network(key)
    return network.version, int(network.network_address), network.prefixlen
