"""Reading fail2ban's database (read-only): its bans, current and past, as entries to take in.

fail2ban keeps every ban in table `bans` (jail, ip, timeofban, bantime, bancount, data) and
the latest ban of each address and jail in `bips` (same columns); `bantime` -1 is permanent.
Both are read, since `dbpurgeage` may have purged old `bans` rows that `bips` still holds.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from floodwall.addresses import ban_key
from floodwall.bans.transfer import Entry
from floodwall.errors import StorageError
from floodwall.model import Ban

ORIGIN = "fail2ban"
"""Origin of the bans taken over from fail2ban."""

_COLUMNS = "jail, ip, timeofban, bantime, bancount, data"


@dataclass(frozen=True, slots=True)
class Fail2banBans:
    """What fail2ban's database holds, ready to take in."""

    entries: tuple[Entry, ...]
    """Every ban (the latest of each address and jail may still be active)."""
    skipped: tuple[str, ...]
    """Banned IDs that are not IP addresses (fail2ban can ban other things)."""


def read_fail2ban(path: str) -> Fail2banBans:
    """The bans of the fail2ban database at `path`, opened read-only; StorageError if it
    cannot be read or is not fail2ban's."""
    if not Path(path).is_file():
        raise StorageError(f"{path}: no such file; give fail2ban's dbfile (see its "
                           "fail2ban.conf, usually /var/lib/fail2ban/fail2ban.sqlite3)")
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=10)
        try:
            rows = _rows(connection, path)
        finally:
            connection.close()
    except sqlite3.Error as problem:
        raise StorageError(f"{path}: cannot read fail2ban's database: {problem}") from None
    return _entries(rows)


def _rows(connection: sqlite3.Connection, path: str) -> list[tuple[Any, ...]]:
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "bans" not in tables:
        raise StorageError(f"{path}: not a fail2ban database (it has no table 'bans'); give "
                           "the dbfile of fail2ban.conf")
    query = f"SELECT {_COLUMNS} FROM bans"
    if "bips" in tables:
        query += f" UNION SELECT {_COLUMNS} FROM bips"
    return connection.execute(query).fetchall()


def _entries(rows: Iterable[tuple[Any, ...]]) -> Fail2banBans:
    by_target: dict[tuple[str, str], list[Ban]] = {}
    skipped: set[str] = set()
    for jail, ip, timeofban, bantime, bancount, data in rows:
        try:
            key = ban_key(str(ip))
        except ValueError:
            skipped.add(str(ip))
            continue
        start = float(timeofban)
        seconds = int(bantime)
        # -1 is permanent; other negatives (-2: "unknown", from old databases) end at once.
        until = None if seconds == -1 else start + max(seconds, 0)
        failures = _failures(data)
        ban = Ban(key, str(jail), start, until, failures, ORIGIN,
                  f"taken over from fail2ban ({failures} failure(s), ban {bancount} of this "
                  "address)", step=max(int(bancount) - 1, 0))
        bans = by_target.setdefault((key, str(jail)), [])
        if all(other.start != start for other in bans):  # `bans` and `bips` share rows
            bans.append(ban)
    entries = []
    for bans in by_target.values():
        bans.sort(key=lambda ban: ban.start)
        # A later ban of the same address and jail replaced the earlier one.
        for ban, successor in itertools.pairwise(bans):
            ended = successor.start if ban.until is None else min(ban.until, successor.start)
            entries.append(Entry(ban, ended))
        entries.append(Entry(bans[-1]))
    return Fail2banBans(tuple(entries), tuple(sorted(skipped)))


def _failures(data: object) -> int:
    """The failure count fail2ban stored with a ban (0 if it has none)."""
    try:
        value = json.loads(data) if isinstance(data, str | bytes) else None
    except ValueError:
        return 0
    failures = value.get("failures") if isinstance(value, dict) else None
    return failures if isinstance(failures, int) and failures >= 0 else 0
