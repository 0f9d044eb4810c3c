"""The SQLite state database (WAL): the ledger of bans with their evidence, and log positions."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from floodwall.errors import StorageError
from floodwall.model import Ban, Failure, Position

SCHEMA_VERSION = 5
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # version -> statements that bring version-1 databases up to it
    2: ("ALTER TABLE bans ADD COLUMN step INTEGER NOT NULL DEFAULT 0",),
    # the recon cache: one answer (or failure) per address and source, until it expires
    3: (("CREATE TABLE IF NOT EXISTS recon (address TEXT NOT NULL, source TEXT NOT NULL, "
        "value TEXT, error TEXT, fetched REAL NOT NULL, expires REAL NOT NULL, "
        "PRIMARY KEY (address, source))"),),
    # decisions for the fleet's Redis, kept (in publication order) while it is unreachable
    4: (("CREATE TABLE IF NOT EXISTS cluster_queue (id INTEGER PRIMARY KEY, "
        "fleet TEXT NOT NULL, decision TEXT NOT NULL)"),),
    # the jails' counting windows as the daemon left them at its last stop
    5: (("CREATE TABLE IF NOT EXISTS windows (jail TEXT NOT NULL, key TEXT NOT NULL, "
        "times TEXT NOT NULL, evidence TEXT NOT NULL)"),),
    # (times: the failure times, space-separated; evidence: JSON, or '' for none)
}
_SCHEMA = """  -- version 1; later versions are reached through _MIGRATIONS
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    jail TEXT NOT NULL,
    start REAL NOT NULL,
    until REAL,                 -- NULL: permanent
    count INTEGER NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    ended REAL,                 -- NULL while the ban is active
    end_reason TEXT
);
CREATE INDEX IF NOT EXISTS bans_open ON bans(ended) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS bans_key ON bans(key);
CREATE TABLE IF NOT EXISTS evidence (
    ban_id INTEGER NOT NULL REFERENCES bans(id),
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    path TEXT NOT NULL,
    lineno INTEGER NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (ban_id, seq)
);
CREATE TABLE IF NOT EXISTS positions (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    lineno INTEGER NOT NULL,
    head TEXT NOT NULL
);
"""
IN_MEMORY = ":memory:"
"""The path of a database held in memory only, gone when closed (a replay's)."""
MAX_EVIDENCE_LINES = 1000
"""Lines of evidence kept per ban (the window's failures, oldest first)."""
MAX_EVIDENCE_CHARS = 4096
"""Longer evidence lines are cut."""


@dataclass(frozen=True, slots=True)
class StoredBan:
    """A ban as the ledger holds it: its row id, the ban and, once ended, when and why."""

    id: int
    ban: Ban
    ended: float | None = None
    end_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One log line that caused a ban."""

    time: float
    path: str
    lineno: int
    line: str


@dataclass(frozen=True, slots=True)
class ReconRow:
    """One cached recon answer: what a source said about an address, or why it failed."""

    address: str
    source: str
    """'geo', 'dns', 'rdap' or 'ports'."""
    value: str | None
    """The answer as JSON; None when the look-up failed."""
    error: str | None
    """Why the look-up failed; None on success."""
    fetched: float
    """Unix time of the look-up."""
    expires: float
    """Unix time after which it is looked up again."""


@dataclass(frozen=True, slots=True)
class WindowRow:
    """One key's counting window in a jail, as saved across a restart."""

    jail: str
    """The jail counting."""
    key: str
    """The key counted."""
    times: list[float]
    """The times of the failures in the window, oldest first."""
    evidence: list[Failure]
    """The failures kept whole as the ban's evidence (see SlidingWindows)."""


class Database:
    """floodwall's SQLite database; one writer (the daemon), readers anywhere."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        on_disk = self.path != IN_MEMORY
        # The ledger holds evidence (log lines, URLs with their tokens): SQLite's files,
        # -wal and -shm included, are made readable by root alone from their first byte,
        # whatever the directory's mode (a local user holding a lock on a world-readable
        # -shm could make every ledger write fail).
        umask = os.umask(0o077) if on_disk else None
        try:
            if on_disk:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a ban reported as applied survives power loss, not just kill -9.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', '1')")
            self._migrate()
            if on_disk:
                for suffix in ("", "-wal", "-shm"):  # those an older version left readable
                    if os.path.exists(self.path + suffix):
                        os.chmod(self.path + suffix, 0o600)
        except (sqlite3.Error, OSError) as problem:
            raise StorageError(f"{self.path}: cannot open the state database: {problem}; "
                               "check the directory exists and is writable by root "
                               "([floodwall] state_dir)") from None
        finally:
            if umask is not None:
                os.umask(umask)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _migrate(self) -> None:
        version = int(self._db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(f"{self.path} was written by a newer floodwall (schema "
                               f"{version}, this one knows {SCHEMA_VERSION}); upgrade floodwall")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                for statement in _MIGRATIONS[target]:
                    self._db.execute(statement)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 (str(target),))

    # --- bans ---------------------------------------------------------------------------

    def add_bans(self, bans: Sequence[tuple[Ban, Sequence[Failure]]]) -> list[int]:
        """Store new bans with their evidence in one transaction; returns their ids."""
        ids = []
        with self._transaction():
            for ban, failures in bans:
                cursor = self._db.execute(
                    "INSERT INTO bans (key, jail, start, until, count, origin, reason, step) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (ban.key, ban.jail, ban.start, ban.until, ban.count, ban.origin, ban.reason,
                     ban.step))
                ban_id = int(cursor.lastrowid or 0)
                ids.append(ban_id)
                self._db.executemany(
                    "INSERT INTO evidence VALUES (?, ?, ?, ?, ?, ?)",
                    ((ban_id, seq, f.time, f.path, f.lineno, f.text[:MAX_EVIDENCE_CHARS])
                     for seq, f in enumerate(failures[-MAX_EVIDENCE_LINES:])))
        return ids

    def extend_ban(self, ban_id: int, until: float | None, count: int) -> None:
        """Move an active ban's end (a repeated decision while banned)."""
        with self._transaction():
            self._db.execute("UPDATE bans SET until = ?, count = ? WHERE id = ?",
                             (until, count, ban_id))

    def end_bans(self, ids: Iterable[int], when: float, reason: str) -> None:
        """Mark bans as ended (expired, unbanned) at `when`."""
        with self._transaction():
            self._db.executemany(
                "UPDATE bans SET ended = ?, end_reason = ? WHERE id = ? AND ended IS NULL",
                ((when, reason, ban_id) for ban_id in ids))

    def add_ended_bans(self, bans: Sequence[tuple[Ban, float, str]]) -> int:
        """Store bans already over (imported history) as (ban, ended, end reason); one
        transaction. Returns how many were stored."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO bans (key, jail, start, until, count, origin, reason, step, ended, "
                "end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((ban.key, ban.jail, ban.start, ban.until, ban.count, ban.origin, ban.reason,
                  ban.step, ended, end_reason) for ban, ended, end_reason in bans))
        return len(bans)

    def recorded_bans(self, origins: Iterable[str]) -> set[tuple[str, str, float, str]]:
        """(key, jail, start, origin) of every stored ban, active or ended, from these origins."""
        found: set[tuple[str, str, float, str]] = set()
        for origin in set(origins):
            rows = self._db.execute("SELECT key, jail, start, origin FROM bans WHERE origin = ?",
                                    (origin,))
            found.update((str(r[0]), str(r[1]), float(r[2]), str(r[3])) for r in rows)
        return found

    def open_bans(self) -> list[StoredBan]:
        """Bans not yet ended (some may be past their end and waiting to be expired)."""
        rows = self._db.execute(
            "SELECT id, key, jail, start, until, count, origin, reason, step FROM bans "
            "WHERE ended IS NULL ORDER BY id").fetchall()
        return [StoredBan(row[0], Ban(*row[1:])) for row in rows]

    def bans_of(self, key: str) -> list[StoredBan]:
        """Every ban of a key, oldest first."""
        return self._stored("WHERE key = ? ORDER BY id", (key,))

    def recent_bans(self, limit: int = 100) -> list[StoredBan]:
        """The newest bans, active or not, newest first."""
        return self._stored("ORDER BY id DESC LIMIT ?", (limit,))

    def evidence(self, ban_id: int) -> list[Evidence]:
        """The log lines that caused a ban."""
        rows = self._db.execute("SELECT time, path, lineno, line FROM evidence "
                                "WHERE ban_id = ? ORDER BY seq", (ban_id,)).fetchall()
        return [Evidence(*row) for row in rows]

    def _stored(self, tail: str, args: tuple[object, ...]) -> list[StoredBan]:
        rows = self._db.execute(
            "SELECT id, key, jail, start, until, count, origin, reason, step, ended, end_reason "
            f"FROM bans {tail}", args).fetchall()
        return [StoredBan(row[0], Ban(*row[1:9]), row[9], row[10]) for row in rows]

    def count_bans(self, key: str, since: float, jail: str | None = None) -> int:
        """Bans of a key that started at or after `since` (in one jail, or in all)."""
        if jail is None:
            row = self._db.execute("SELECT COUNT(*) FROM bans WHERE key = ? AND start >= ?",
                                   (key, since)).fetchone()
        else:
            row = self._db.execute("SELECT COUNT(*) FROM bans WHERE key = ? AND start >= ? "
                                   "AND jail = ?", (key, since, jail)).fetchone()
        return int(row[0])

    def purge_history(self, before: float) -> int:
        """Delete bans that ENDED before `before` (with their evidence); active bans stay."""
        with self._transaction():
            self._db.execute("DELETE FROM evidence WHERE ban_id IN (SELECT id FROM bans WHERE "
                             "ended IS NOT NULL AND ended < ?)", (before,))
            cursor = self._db.execute("DELETE FROM bans WHERE ended IS NOT NULL AND ended < ?",
                                      (before,))
        return cursor.rowcount

    def bans_since(self, since: float) -> list[StoredBan]:
        """Every ban that started at or after `since`, oldest first."""
        return self._stored("WHERE start >= ? ORDER BY id", (since,))

    def evidence_since(self, since: float) -> list[tuple[int, Evidence]]:
        """(ban id, line) of the evidence of bans started at or after `since`."""
        rows = self._db.execute(
            "SELECT e.ban_id, e.time, e.path, e.lineno, e.line FROM evidence e "
            "JOIN bans b ON b.id = e.ban_id WHERE b.start >= ? ORDER BY e.ban_id, e.seq",
            (since,)).fetchall()
        return [(row[0], Evidence(*row[1:])) for row in rows]

    # --- recon cache (recon.enricher.Enricher) ------------------------------------------

    def load_recon(self, address: str) -> list[ReconRow]:
        """Every cached answer (or failure) about an address, expired or not."""
        rows = self._db.execute("SELECT address, source, value, error, fetched, expires "
                                "FROM recon WHERE address = ?", (address,)).fetchall()
        return [ReconRow(*row) for row in rows]

    def save_recon(self, rows: Iterable[ReconRow]) -> None:
        """Store answers (or failures), replacing earlier ones of the same address and source."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO recon VALUES (?, ?, ?, ?, ?, ?)",
                ((r.address, r.source, r.value, r.error, r.fetched, r.expires) for r in rows))

    # --- positions (sources.offsets.OffsetStore) ----------------------------------------

    def load_positions(self) -> dict[str, Position]:
        """Saved read positions of every followed file."""
        rows = self._db.execute("SELECT path, inode, offset, lineno, head FROM positions")
        return {row[0]: Position(row[1], row[2], row[3], row[4]) for row in rows}

    def save_positions(self, positions: Mapping[str, Position]) -> None:
        """Save read positions (one transaction)."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO positions VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "inode = excluded.inode, offset = excluded.offset, lineno = excluded.lineno, "
                "head = excluded.head",
                ((path, p.inode, p.offset, p.lineno, p.head) for path, p in positions.items()))

    # --- counting windows (detection.windows) ------------------------------------------

    def save_windows(self, windows: Iterable[WindowRow]) -> int:
        """Replace the saved windows with these (one transaction); how many were saved."""
        with self._transaction():
            self._db.execute("DELETE FROM windows")
            cursor = self._db.executemany(
                "INSERT INTO windows VALUES (?, ?, ?, ?)",
                ((row.jail, row.key, " ".join(map(repr, row.times)), json.dumps(
                    [[f.time, f.path, f.lineno, f.text, dict(f.fields)] for f in row.evidence])
                  if row.evidence else "") for row in windows))
        return cursor.rowcount

    def load_windows(self) -> Iterator[WindowRow]:
        """The windows saved last; a row that does not read back is skipped."""
        try:
            rows = self._db.execute("SELECT jail, key, times, evidence FROM windows").fetchall()
        except sqlite3.Error as problem:
            raise StorageError(f"{self.path}: cannot read the saved windows: {problem}") from None
        for jail, key, times, evidence in rows:
            try:
                yield WindowRow(jail, key, [float(t) for t in times.split()], [
                    Failure(jail, key, float(when), str(path), int(lineno), str(text),
                            dict(fields))
                    for when, path, lineno, text, fields in json.loads(evidence)]
                    if evidence else [])
            except (ValueError, TypeError):
                continue

    # --- cluster (cluster.queue) --------------------------------------------------------

    def queue_decisions(self, fleet: str, decisions: Sequence[str]) -> None:
        """Keep decisions for the fleet until they are published (one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT INTO cluster_queue (fleet, decision) VALUES (?, ?)",
                                 ((fleet, decision) for decision in decisions))

    def queued_decisions(self, fleet: str, limit: int) -> list[tuple[int, str]]:
        """The oldest queued decisions of a fleet as (id, JSON), in publication order."""
        rows = self._db.execute("SELECT id, decision FROM cluster_queue WHERE fleet = ? "
                                "ORDER BY id LIMIT ?", (fleet, limit)).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def unqueue_decisions(self, ids: Iterable[int]) -> None:
        """Forget queued decisions once published."""
        with self._transaction():
            self._db.executemany("DELETE FROM cluster_queue WHERE id = ?",
                                 ((decision_id,) for decision_id in ids))

    def get_meta(self, key: str) -> str | None:
        """A small named value kept in the database (None if never set)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Keep a small named value in the database."""
        with self._transaction():
            self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                             "value = excluded.value", (key, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error, with storage errors made readable."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as problem:  # locked, read-only, disk I/O: as readable as the rest
            raise StorageError(f"state database write failed: {problem}") from None

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
            if isinstance(value, sqlite3.Error):
                raise StorageError(f"state database write failed: {value}") from None
