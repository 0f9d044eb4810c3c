"""Tests of the SQLite state database: WAL mode, permissions, positions."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from floodwall.errors import StorageError
from floodwall.model import Ban, Position
from floodwall.storage.database import Database


def test_database_is_wal_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "floodwall.sqlite3"
    Database(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_positions_round_trip_and_update(tmp_path: Path) -> None:
    database = Database(tmp_path / "s.db")
    database.save_positions({"/var/log/a": Position(11, 100, 5, "aa"),
                             "/var/log/b": Position(12, 7, 1, "bb")})
    database.save_positions({"/var/log/a": Position(11, 180, 9, "aa")})
    assert database.load_positions() == {"/var/log/a": Position(11, 180, 9, "aa"),
                                         "/var/log/b": Position(12, 7, 1, "bb")}


def test_unusable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="state_dir"):
        Database(blocker / "sub" / "floodwall.sqlite3")


def test_windows_round_trip_replace_and_skip_what_does_not_read_back(tmp_path: Path) -> None:
    from floodwall.model import Failure
    from floodwall.storage.database import WindowRow

    db = Database(tmp_path / "s.sqlite3")
    evidence = [Failure("web", "192.0.2.7", 12.5, "/var/log/a.log", 7, "GET /x 404",
                        {"status": 404, "path": "/x"})]
    rows = [WindowRow("web", "192.0.2.7", [10.0, 12.5], evidence),
            WindowRow("ssh", "2001:db8::/64", [3.0], [])]
    assert db.save_windows(rows) == 2
    assert sorted(db.load_windows(), key=lambda r: r.jail) == sorted(rows, key=lambda r: r.jail)
    assert db.save_windows(rows[1:]) == 1  # a save replaces the last one
    db._db.execute("INSERT INTO windows VALUES ('web', 'x', 'not a number', '')")
    db._db.execute("INSERT INTO windows VALUES ('web', 'y', '1.0', 'not json')")
    assert list(db.load_windows()) == [rows[1]]
    db.close()


def test_a_database_of_an_older_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    from floodwall.storage.database import SCHEMA_VERSION

    path = tmp_path / "old.sqlite3"
    Database(path).close()
    old = sqlite3.connect(path)
    old.execute("DROP TABLE windows")  # as version 4 left it
    old.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    old.commit()
    old.close()
    db = Database(path)
    assert list(db.load_windows()) == []  # the table is back
    version = db._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    db.close()


def test_an_in_memory_database_holds_bans_and_leaves_no_file(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from floodwall.model import Ban
    from floodwall.storage.database import IN_MEMORY

    monkeypatch.chdir(tmp_path)
    database = Database(IN_MEMORY)
    [ban_id] = database.add_bans([(Ban("192.0.2.1", "web", 10.0, 70.0, 3), ())])
    assert [stored.id for stored in database.open_bans()] == [ban_id]
    assert database.count_bans("192.0.2.1", 0.0) == 1
    database.close()
    assert list(tmp_path.iterdir()) == []


def test_the_ledgers_files_are_root_only_from_their_first_byte(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # systemd's default StateDirectory mode
    database = Database(str(state / "floodwall.sqlite3"))
    database.add_bans([(Ban("192.0.2.7", "web", 1.0, 2.0, 1, "local", "x"), ())])
    names = sorted(path.name for path in state.iterdir())
    assert names == ["floodwall.sqlite3", "floodwall.sqlite3-shm", "floodwall.sqlite3-wal"]
    assert {(state / name).stat().st_mode & 0o777 for name in names} == {0o600}
    database.close()


def test_files_an_older_version_left_readable_are_made_root_only(tmp_path: Path) -> None:
    path = tmp_path / "floodwall.sqlite3"
    Database(str(path)).close()
    for name in ("floodwall.sqlite3", "floodwall.sqlite3-wal"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    database = Database(str(path))
    assert (path.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "floodwall.sqlite3-wal").stat().st_mode & 0o777) == 0o600
    database.close()
